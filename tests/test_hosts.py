"""`clevertap-mcp config HOST`: each host's snippet in its own format, and `--write` merging into its config file."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp import cli
from clevertap_mcp.cli.hosts import (
    ENV_VARS,
    HOSTS,
    HostConfigError,
    default_path,
    merge_toml,
    server_launch,
    snippet,
    toml_tables,
    uvx_source,
    write_config,
)

from helpers import call, ok
from leakcheck import WRITTEN

JSON_HOSTS = [h for h in HOSTS if h != "codex"]
CONTAINER = {"vscode": "servers"}


def parsed(host: str, text: str) -> dict[str, Any]:
    return tomllib.loads(text) if host == "codex" else json.loads(text)


def servers_of(host: str, document: dict[str, Any]) -> dict[str, Any]:
    return document["mcp_servers"] if host == "codex" else document[CONTAINER.get(host, "mcpServers")]


@pytest.mark.parametrize("host", HOSTS)
def test_each_hosts_snippet_parses_in_its_format_with_an_absolute_command_that_exists(host: str) -> None:
    snip = snippet(host)
    entry = servers_of(host, parsed(host, snip.text))["clevertap"]
    assert entry == snip.entry
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).is_file()
    assert entry["args"] == (["--confirm", "writes"] if host == "codex" else [])


@pytest.mark.parametrize("host", ["claude-desktop", "cursor", "windsurf", "codex", "gemini"])
def test_env_placeholders_are_blank_so_the_server_starts_and_names_the_variable_to_fill(host: str) -> None:
    assert snippet(host).entry["env"] == dict.fromkeys(ENV_VARS, "")


def test_codex_waits_for_the_server_and_pre_approves_the_four_tools_so_codex_exec_runs_the_read_flow() -> None:
    # codex-rs config/src/mcp_types.rs: `required`, and per-tool `tools.NAME.approval_mode` (auto, prompt, approve).
    entry = tomllib.loads(snippet("codex").text)["mcp_servers"]["clevertap"]
    assert entry["required"] is True
    # Pre-approved tools: the server itself asks before every write, uploads included (test_confirm_writes.py).
    assert entry["args"][-2:] == ["--confirm", "writes"]
    assert entry["tools"] == {
        tool: {"approval_mode": "approve"}
        for tool in ("ensure_connection", "search_actions", "run_action", "proxy_request")
    }


def test_gemini_gets_literal_env_values_and_its_notes_on_trust_and_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "gemini"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["mcpServers"]["clevertap"]["env"] == dict.fromkeys(ENV_VARS, "")
    assert "literally" in err and "trustedFolders.json" in err and "--confirm" in err


def test_vscode_uses_typed_stdio_servers_and_prompts_for_the_token_instead_of_storing_it() -> None:
    snip = snippet("vscode")
    document = json.loads(snip.text)
    assert document["servers"]["clevertap"]["type"] == "stdio"
    assert document["servers"]["clevertap"]["env"] == {"MEMBRANE_TOKEN": "${input:membrane-token}"}
    assert document["inputs"] == [
        {
            "type": "promptString",
            "id": "membrane-token",
            "description": "Membrane API token for clevertap-mcp",
            "password": True,
        }
    ]


def test_claude_code_takes_credentials_from_each_users_environment() -> None:
    entry = snippet("claude-code").entry
    assert entry["type"] == "stdio"
    assert entry["env"] == {name: f"${{{name}:-}}" for name in ENV_VARS}


@pytest.mark.parametrize("host", HOSTS)
def test_a_sandbox_snippet_passes_the_flag_and_no_credentials(host: str) -> None:
    entry = snippet(host, sandbox=True).entry
    assert entry["args"] == ["--sandbox", *(["--confirm", "writes"] if host == "codex" else [])]
    assert "env" not in entry


def test_unusable_server_names_are_refused_with_the_rule() -> None:
    with pytest.raises(HostConfigError, match="start with a letter"):
        snippet("cursor", name="my server")


def test_run_through_uvx_the_snippet_starts_uvx_from_the_same_source_not_a_path_in_uvs_cache(tmp_path: Path) -> None:
    # `uvx --from . clevertap-mcp config ...` runs in an environment of uv's cache, gone after `uv cache clean`.
    uv = tmp_path / "bin" / "uv"
    uv.parent.mkdir()
    uv.touch()
    (uv.parent / "uvx").touch()
    cached = tmp_path / ".cache" / "uv" / "archive-v0" / "jLwY9nQ5b0h0tERr"
    command, args = server_launch(sandbox=True, prefix=cached, env={"UV": str(uv)})
    assert command == str(uv.parent / "uvx")
    # This checkout is installed editable, so PEP 610's record names its path, which uvx can build from.
    assert args == ["--from", str(Path(__file__).resolve().parent.parent), "clevertap-mcp", "--sandbox"]
    assert server_launch(sandbox=False, prefix=tmp_path / "venv", env={"UV": str(uv)})[1] == []


def test_uvx_rebuilds_from_where_the_install_came_from_else_the_package_name() -> None:
    assert uvx_source('{"url": "file:///srv/clevertap-mcp", "dir_info": {"editable": true}}') == "/srv/clevertap-mcp"
    git = '{"url": "https://github.com/o/clevertap-mcp", "vcs_info": {"vcs": "git", "commit_id": "ab12"}}'
    assert uvx_source(git) == "git+https://github.com/o/clevertap-mcp"
    assert uvx_source('{"url": "https://files.example/clevertap_mcp-0.1.0.tar.gz", "archive_info": {}}') == (
        "https://files.example/clevertap_mcp-0.1.0.tar.gz"
    )
    assert uvx_source(None) == "clevertap-mcp"
    assert uvx_source("not json") == "clevertap-mcp"


def test_default_paths_follow_each_host_and_operating_system(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "APPDATA": str(tmp_path / "Roaming")}
    claude = "claude_desktop_config.json"
    assert default_path("claude-desktop", env=env, platform="darwin") == (
        tmp_path / "Library" / "Application Support" / "Claude" / claude
    )
    assert default_path("claude-desktop", env=env, platform="win32") == tmp_path / "Roaming" / "Claude" / claude
    assert default_path("claude-desktop", env=env, platform="linux") == tmp_path / ".config" / "Claude" / claude
    assert default_path("cursor", env=env) == tmp_path / ".cursor" / "mcp.json"
    assert default_path("windsurf", env=env) == tmp_path / ".codeium" / "windsurf" / "mcp_config.json"
    assert default_path("codex", env=env) == tmp_path / ".codex" / "config.toml"
    assert default_path("gemini", env=env) == tmp_path / ".gemini" / "settings.json"
    assert default_path("codex", env=env | {"CODEX_HOME": str(tmp_path / "cx")}) == tmp_path / "cx" / "config.toml"
    assert default_path("vscode", env=env) == Path.cwd() / ".vscode" / "mcp.json"
    assert default_path("claude-code", env=env) == Path.cwd() / ".mcp.json"


@pytest.mark.parametrize("host", HOSTS)
def test_writing_creates_a_missing_config_file_with_only_this_server(host: str, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "config"
    snip = snippet(host)
    assert write_config(host, snip, path) is None
    assert servers_of(host, parsed(host, path.read_text())) == {"clevertap": snip.entry}


EXISTING_JSON: dict[str, str] = {
    host: json.dumps(
        {
            "theme": "dark",
            CONTAINER.get(host, "mcpServers"): {"github": {"command": "gh-mcp", "args": ["stdio"]}},
            **({"inputs": [{"type": "promptString", "id": "gh", "password": True}]} if host == "vscode" else {}),
        },
        indent=4,
    )
    for host in JSON_HOSTS
}
EXISTING_TOML = """# my codex settings
model = "o3"

[mcp_servers.github]
command = "gh-mcp"
args = ["stdio"]

[mcp_servers.github.env]
GH_TOKEN = "placeholder"

[profiles.fast]
model = "mini"
"""


@pytest.mark.parametrize("host", HOSTS)
def test_writing_keeps_other_servers_and_settings_and_backs_up_the_old_file(host: str, tmp_path: Path) -> None:
    path = tmp_path / "config"
    old = EXISTING_TOML if host == "codex" else EXISTING_JSON[host]
    path.write_text(old)
    snip = snippet(host)
    backup = write_config(host, snip, path)
    assert backup is not None and backup.read_text() == old
    before, after = parsed(host, old), parsed(host, path.read_text())
    servers_of(host, before)["clevertap"] = snip.entry
    if host == "vscode":
        before["inputs"] += list(snip.inputs)
    assert after == before


def test_the_codex_file_keeps_its_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXISTING_TOML)
    write_config("codex", snippet("codex"), path)
    assert path.read_text().startswith(EXISTING_TOML)


@pytest.mark.parametrize("host", HOSTS)
def test_writing_again_replaces_this_server_instead_of_adding_a_second(host: str, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(EXISTING_TOML if host == "codex" else EXISTING_JSON[host])
    write_config(host, snippet(host), path)
    write_config(host, snippet(host, sandbox=True), path)
    document = parsed(host, path.read_text())
    assert servers_of(host, document)["clevertap"] == snippet(host, sandbox=True).entry
    assert sorted(servers_of(host, document)) == ["clevertap", "github"]
    if host == "vscode":
        assert [item["id"] for item in document["inputs"]] == ["gh", "membrane-token"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "config.bak", "config.bak1"]


INVALID = {
    "cursor": '{"mcpServers": {"github": {"command": "gh"},}}',  # a trailing comma
    "vscode": '// my servers\n{"servers": {}}',
    "claude-desktop": '["not", "an", "object"]',
    "windsurf": '{"mcpServers": ["not", "a", "map"]}',
    "codex": '[mcp_servers.github]\ncommand = "gh\n',
    "claude-code": "{",
    "gemini": '{"mcpServers": "not a map"}',
}


@pytest.mark.parametrize("host", HOSTS)
def test_an_invalid_existing_file_is_reported_and_left_untouched(host: str, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(INVALID[host])
    with pytest.raises(HostConfigError, match="left unchanged") as raised:
        write_config(host, snippet(host), path)
    assert str(path) in str(raised.value)
    assert path.read_text() == INVALID[host]
    assert [p.name for p in tmp_path.iterdir()] == ["config"]


def test_a_codex_server_defined_inline_is_not_rewritten_behind_the_users_back(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    inline = 'mcp_servers = { clevertap = { command = "old" } }\n'
    path.write_text(inline)
    with pytest.raises(HostConfigError, match="inline or dotted keys"):
        write_config("codex", snippet("codex"), path)
    assert path.read_text() == inline


_toml_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@given(command=_toml_text, args=st.lists(_toml_text, max_size=3), value=_toml_text)
def test_the_toml_emitter_round_trips_any_string(command: str, args: list[str], value: str) -> None:
    entry: dict[str, Any] = {"command": command, "args": args, "env": {"MEMBRANE_TOKEN": value, "odd key": value}}
    assert tomllib.loads(toml_tables("clevertap", entry)) == {"mcp_servers": {"clevertap": entry}}


def test_merging_toml_into_an_empty_file_gives_just_the_snippet() -> None:
    snip = snippet("codex")
    assert merge_toml("", "clevertap", snip) == snip.text


def test_the_config_command_prints_the_snippet_and_where_it_goes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "codex"]) == 0
    out, err = capsys.readouterr()
    assert tomllib.loads(out)["mcp_servers"]["clevertap"] == snippet("codex").entry
    assert "config.toml" in err and "--write" in err


def test_the_config_command_for_claude_code_also_gives_a_claude_mcp_add_json_line_with_options_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["config", "claude-code"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("# or: "))
    words = shlex.split(line.removeprefix("# or: "))
    # Options before the name, and no variadic -e that would swallow it (anthropics/claude-code#62332).
    assert words[:6] == ["claude", "mcp", "add-json", "--scope", "user", "clevertap"]
    assert len(words) == 7
    entry = json.loads(words[6])
    launched = snippet("claude-code").entry
    assert entry == {
        "type": "stdio",
        "command": launched["command"],
        "args": [],
        "env": {"MEMBRANE_TOKEN": "<your Membrane token>"},
    }


def test_the_config_command_writes_and_reports_failures_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mcp.json"
    assert cli.main(["config", "cursor", "--write", "--path", str(path)]) == 0
    assert f"Wrote server 'clevertap' to {path}" in capsys.readouterr().out
    path.write_text("{oops")
    assert cli.main(["config", "cursor", "--write", "--path", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"clevertap-mcp config: {path} was left unchanged: it is not valid JSON")


@pytest.mark.anyio
async def test_a_written_configuration_starts_a_working_server(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    write_config("claude-desktop", snippet("claude-desktop", sandbox=True), path)
    entry = json.loads(path.read_text())["mcpServers"]["clevertap"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(30):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            result = ok(await call(client, "ensure_connection"))
    WRITTEN.append((tmp_path / "stderr.log").read_text())
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    # The script installed beside this interpreter, so a host needs no PATH of the user's to find it.
    assert Path(entry["command"]).parent == Path(sys.executable).parent
