"""Signing in with Membrane (membrane-api.md §11 "Signing in"): the OAuth client, the token store, the login flow.

Nothing here imports MCP: the CLI (`login`, `logout`, `doctor`) and the server's sign-in offer both build on it.
"""
