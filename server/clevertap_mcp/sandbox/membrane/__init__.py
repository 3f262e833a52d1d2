"""The sandbox's emulated Membrane: state with no HTTP (state.py), its route table (routes.py), the error bodies
(errors.py), bearer auth (auth.py), action search (search.py), runs (runs.py, act.py), the API proxy (proxy.py,
upstream.py) and the connect page (connect_page.py). app.py in the parent package puts them together.
"""
