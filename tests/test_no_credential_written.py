"""Runs last (see conftest): nothing the server wrote during the whole suite carries a credential."""

from __future__ import annotations

import pytest

from clevertap_mcp import redaction

from leakcheck import LEAK_SECRET, LEAK_TOKEN, WRITTEN


def test_no_token_or_secret_appears_in_anything_the_server_wrote() -> None:
    registered = redaction.registered_values()
    if not {LEAK_TOKEN, LEAK_SECRET} <= registered:
        pytest.skip("the scan needs the whole suite's traffic (test_leak_check.py and the rest); run all of tests/")
    assert len(WRITTEN) > 100, "too little was recorded for this scan to mean anything"
    leaks = [(value[:12] + "…", text[:200]) for text in WRITTEN for value in registered if value in text]
    assert leaks == []
