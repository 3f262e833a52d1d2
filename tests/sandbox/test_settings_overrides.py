"""`--set NAME=VALUE` (and `--sandbox-set`): every sandbox setting can be flipped from a shell, with clear refusals."""

from __future__ import annotations

import re

import pytest

from clevertap_mcp.cli import main
from clevertap_mcp.sandbox.settings import SandboxSettings, with_overrides


def test_each_kind_of_setting_takes_its_json_value() -> None:
    settings = with_overrides(
        SandboxSettings(),
        [
            "count_partial_polls=0",
            "auto-connect=true",
            "handler_delay=0.25",
            "clock=1767607200",
            "scheduled_on_format=epoch",
            'campaign_result_extras=["viewed", "converted"]',
            'delete_success_extras=[["processed", 2], ["async", true]]',
            "user_not_found_error=Nobody by that identity",
        ],
    )
    assert settings.count_partial_polls == 0
    assert settings.auto_connect is True
    assert settings.handler_delay == 0.25
    assert settings.clock == 1767607200.0
    assert settings.scheduled_on_format == "epoch"
    assert settings.campaign_result_extras == ("viewed", "converted")
    assert settings.delete_success_extras == (("processed", 2), ("async", True))
    assert settings.user_not_found_error == "Nobody by that identity"
    assert with_overrides(settings, ["clock=null"]).clock is None


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("count_partial_poll=0", "no sandbox setting 'count_partial_poll'. Did you mean count_partial_polls?"),
        ("count_partial_polls=many", 'takes an integer, not "many"'),
        ("auto_connect=1", "takes true or false, not 1"),
        ("scheduled_on_format=iso", 'takes one of "yyyyMMddHHmm", "epoch"'),
        ("campaign_result_extras=viewed", "takes a JSON list"),
        ("count_partial_polls", "is not NAME=VALUE"),
    ],
    ids=["unknown", "not-int", "not-bool", "not-in-choices", "not-list", "no-equals"],
)
def test_a_bad_assignment_is_refused_saying_what_the_setting_takes(assignment: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        with_overrides(SandboxSettings(), [assignment])


def test_the_command_line_stops_with_the_refusal_and_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--set", "profiles=lots"]) == 2
    assert "--set: Sandbox setting profiles takes an integer" in capsys.readouterr().err
