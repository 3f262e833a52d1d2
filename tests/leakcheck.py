"""Recognisable credentials and the record of everything the server wrote during the suite (see conftest)."""

from __future__ import annotations

# If one of these shows up in anything the server wrote, it leaked.
LEAK_TOKEN = "tok-LEAKCHECK-7f3a9c1e5b"
LEAK_SECRET = "wsk-LEAKCHECK-secret-42d1"

WRITTEN: list[str] = []
