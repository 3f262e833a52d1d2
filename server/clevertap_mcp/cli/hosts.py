"""`clevertap-mcp config HOST`: the configuration snippet each MCP host expects, and `--write` to merge it in.

Formats and default locations (checked against each host's documentation):

    claude-desktop  claude_desktop_config.json  {"mcpServers": {NAME: {command, args, env}}}
                    macOS ~/Library/Application Support/Claude/, Windows %APPDATA%\\Claude\\, else ~/.config/Claude/
    cursor          ~/.cursor/mcp.json                    {"mcpServers": {...}}
    windsurf        ~/.codeium/windsurf/mcp_config.json   {"mcpServers": {...}}
    vscode          .vscode/mcp.json (the workspace)      {"servers": {NAME: {"type": "stdio", ...}}, "inputs": [...]}
    codex           ~/.codex/config.toml ($CODEX_HOME)    [mcp_servers.NAME] command, args, required;
                    [mcp_servers.NAME.env]; [mcp_servers.NAME.tools.TOOL] approval_mode (codex-rs config mcp_types.rs)
    gemini          ~/.gemini/settings.json               {"mcpServers": {NAME: {command, args, env}}}; env values
                    literal (Gemini CLI strips inherited variables whose names look secret)
    claude-code     .mcp.json (the project)               {"mcpServers": {NAME: {"type": "stdio", ...}}}, ${VAR}
                    expanded by Claude Code; or `claude mcp add-json`

Merging keeps every other server and setting, backs the old file up next to it, and refuses (writing nothing) when
the existing file is not something it can edit safely.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

__all__ = [
    "ENV_VARS",
    "HOSTS",
    "HostConfigError",
    "Snippet",
    "default_path",
    "merge_json",
    "merge_toml",
    "server_launch",
    "snippet",
    "uvx_source",
    "write_config",
]

HOSTS = ("claude-desktop", "cursor", "windsurf", "vscode", "codex", "claude-code", "gemini")
# Codex: `required` makes it list the tools before its first model request (an optional server may miss that turn)
# and fail fast when the server cannot start. `codex exec` runs with approval policy "never", which refuses every
# tool not annotated read-only; these four are pre-approved because the server itself asks (`--confirm writes`: by a
# form, which `codex exec` declines, so nothing is sent) before every call that may write.
CODEX_APPROVED_TOOLS = ("ensure_connection", "search_actions", "run_action", "proxy_request")
ENV_VARS = ("MEMBRANE_TOKEN", "MEMBRANE_WORKSPACE_KEY", "MEMBRANE_WORKSPACE_SECRET", "MEMBRANE_TENANT_KEY")
DEFAULT_NAME = "clevertap"
# VS Code's schema allows these server names; the other hosts accept them too.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
VSCODE_TOKEN_INPUT = "membrane-token"  # noqa: S105 - the id of VS Code's prompt, not a token
_BARE_TOML_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
# Directories of uv's cache that hold the environments `uvx` builds (archive-v0, environments-v2, ...).
_UV_CACHED_ENVIRONMENT = re.compile(r"^(archive|environments)-v\d+$")


class HostConfigError(Exception):
    """The host's config file cannot be merged safely; nothing was written. The message says what to do."""


@dataclass(frozen=True)
class Snippet:
    host: str
    text: str
    # The parsed form that --write merges: the server entry, and for VS Code its prompt inputs.
    entry: dict[str, Any]
    inputs: tuple[dict[str, Any], ...] = ()


def server_launch(
    *, sandbox: bool, prefix: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, list[str]]:
    """An absolute command and its arguments: hosts start servers without the user's shell PATH."""
    args = ["--sandbox"] if sandbox else []
    uvx = _uvx_launch(Path(sys.prefix) if prefix is None else prefix, os.environ if env is None else env)
    if uvx is not None:
        return uvx[0], [*uvx[1], *args]
    script = "clevertap-mcp.exe" if os.name == "nt" else "clevertap-mcp"
    # Not resolved: a virtualenv's python is a symlink, and the script lives next to the link, not its target.
    beside = Path(sys.executable).absolute().parent / script
    if beside.is_file():
        return str(beside), args
    found = shutil.which(script)
    if found:
        return str(Path(found).absolute()), args
    return str(Path(sys.executable).absolute()), ["-m", "clevertap_mcp", *args]


def _uvx_launch(prefix: Path, env: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """`uvx --from SOURCE clevertap-mcp` when this process runs in a throwaway environment of uv's cache (as under
    `uvx --from . clevertap-mcp config ...`): a path inside it is gone after `uv cache clean` or a rebuild."""
    if not any(_UV_CACHED_ENVIRONMENT.match(part) for part in prefix.parts):
        return None
    name = "uvx.exe" if os.name == "nt" else "uvx"
    beside_uv = Path(env["UV"]).with_name(name) if env.get("UV") else None  # uv tells the tools it runs where it is
    found = shutil.which(name)
    command = str(beside_uv) if beside_uv is not None and beside_uv.is_file() else found or name
    return command, ["--from", uvx_source(_direct_url()), "clevertap-mcp"]


def _direct_url() -> str | None:
    from importlib import metadata  # imported here: the stdio server imports this module and starts no slower

    try:
        return metadata.distribution("clevertap-mcp").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None


def uvx_source(direct_url: str | None) -> str:
    """What `uvx --from` needs to build this install again (PEP 610's record of where it came from): its local
    path, its VCS or archive URL, else the package's name on the index."""
    try:
        info: Any = json.loads(direct_url) if direct_url else None
    except json.JSONDecodeError:
        info = None
    url: Any = cast(dict[str, Any], info).get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url:
        return "clevertap-mcp"
    if url.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return url2pathname(urlparse(url).path)
    vcs_info: Any = cast(dict[str, Any], info).get("vcs_info")
    vcs: Any = cast(dict[str, Any], vcs_info).get("vcs") if isinstance(vcs_info, dict) else None
    return f"{vcs}+{url}" if isinstance(vcs, str) else url


def _env(host: str, sandbox: bool) -> dict[str, str]:
    if sandbox:
        return {}  # the sandbox has its own demo workspace; credentials would be ignored
    if host == "vscode":
        # .vscode/mcp.json is usually committed: VS Code prompts for the token and stores it, never in the file.
        return {"MEMBRANE_TOKEN": f"${{input:{VSCODE_TOKEN_INPUT}}}"}
    if host == "claude-code":
        # .mcp.json is shared with the team; Claude Code expands these from each user's own environment.
        return {name: f"${{{name}:-}}" for name in ENV_VARS}
    # Blank values count as unset, so the server starts and says which one to fill.
    return dict.fromkeys(ENV_VARS, "")


def snippet(host: str, *, name: str = DEFAULT_NAME, sandbox: bool = False) -> Snippet:
    if host not in HOSTS:
        raise HostConfigError(f"Unknown host {host!r}: choose one of {', '.join(HOSTS)}.")
    if not NAME_PATTERN.match(name):
        raise HostConfigError(
            f"Server name {name!r} is not usable: start with a letter; letters, digits, '-' and '_' only."
        )
    command, args = server_launch(sandbox=sandbox)
    env = _env(host, sandbox)
    entry: dict[str, Any] = {"command": command, "args": args}
    if host in ("vscode", "claude-code"):
        entry = {"type": "stdio", **entry}
    if env:
        entry["env"] = env
    if host == "codex":
        # The tools are pre-approved, so the server asks before every write (uploads included), not only deletes.
        entry["args"] = [*args, "--confirm", "writes"]
        entry["required"] = True
        entry["tools"] = {tool: {"approval_mode": "approve"} for tool in CODEX_APPROVED_TOOLS}
        return Snippet(host, toml_tables(name, entry), entry)
    inputs: tuple[dict[str, Any], ...] = ()
    if host == "vscode" and env:
        inputs = (
            {
                "type": "promptString",
                "id": VSCODE_TOKEN_INPUT,
                "description": "Membrane API token for clevertap-mcp",
                "password": True,
            },
        )
    document: dict[str, Any] = {_container(host): {name: entry}}
    if inputs:
        document["inputs"] = list(inputs)
    return Snippet(host, json.dumps(document, indent=2) + "\n", entry, inputs)


def _container(host: str) -> str:
    return "servers" if host == "vscode" else "mcpServers"


def default_path(host: str, *, env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    environ = os.environ if env is None else env
    home = Path(environ.get("HOME") or Path.home())
    platform = platform or sys.platform
    if host == "claude-desktop":
        if platform == "darwin":
            return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
        if platform == "win32":
            appdata = environ.get("APPDATA") or str(home / "AppData" / "Roaming")
            return Path(appdata) / "Claude" / "claude_desktop_config.json"
        config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        return Path(config_home) / "Claude" / "claude_desktop_config.json"
    if host == "cursor":
        return home / ".cursor" / "mcp.json"
    if host == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    if host == "vscode":
        return Path.cwd() / ".vscode" / "mcp.json"
    if host == "codex":
        return Path(environ.get("CODEX_HOME") or str(home / ".codex")) / "config.toml"
    if host == "claude-code":
        return Path.cwd() / ".mcp.json"
    if host == "gemini":
        return home / ".gemini" / "settings.json"
    raise HostConfigError(f"Unknown host {host!r}: choose one of {', '.join(HOSTS)}.")


# --- JSON hosts ----------------------------------------------------------------------------------------------------


def merge_json(existing: str, host: str, name: str, snip: Snippet) -> str:
    """The existing JSON config with this server set; other servers, inputs and settings untouched."""
    try:
        loaded: Any = json.loads(existing) if existing.strip() else {}
    except json.JSONDecodeError as exc:
        raise HostConfigError(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}; comments and trailing "
            "commas are not JSON). Fix it, or paste the snippet from `clevertap-mcp config "
            f"{host}` by hand."
        ) from None
    if not isinstance(loaded, dict):
        raise HostConfigError("its top level is not a JSON object. Fix it, or move it aside and run again.")
    document = cast(dict[str, Any], loaded)
    key = _container(host)
    servers: Any = document.setdefault(key, {})
    if not isinstance(servers, dict):
        raise HostConfigError(f'its "{key}" is not a JSON object. Fix it, or paste the snippet by hand.')
    cast(dict[str, Any], servers)[name] = snip.entry
    if snip.inputs:
        inputs: Any = document.setdefault("inputs", [])
        if not isinstance(inputs, list):
            raise HostConfigError('its "inputs" is not a JSON array. Fix it, or paste the snippet by hand.')
        kept: list[Any] = [
            item
            for item in cast(list[Any], inputs)
            if not (isinstance(item, dict) and cast(dict[str, Any], item).get("id") == VSCODE_TOKEN_INPUT)
        ]
        document["inputs"] = kept + list(snip.inputs)
    return json.dumps(document, indent=2) + "\n"


# --- Codex (TOML) --------------------------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if _BARE_TOML_KEY.match(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out: list[str] = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in cast(list[Any], value)) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_tables(name: str, entry: Mapping[str, Any]) -> str:
    """`[mcp_servers.NAME]` with its scalar and array keys, then a sub-table per nested mapping (env, tools.TOOL)."""
    return "\n".join(_table(f"mcp_servers.{_toml_key(name)}", entry)) + "\n"


def _table(head: str, table: Mapping[str, Any]) -> list[str]:
    nested = [(k, cast(Mapping[str, Any], v)) for k, v in table.items() if isinstance(v, Mapping)]
    scalars = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, Mapping)]
    # A table holding only tables needs no header of its own ([mcp_servers.NAME.tools] before its tools).
    lines = [f"[{head}]", *scalars] if scalars or not nested else []
    for key, sub in nested:
        if lines:
            lines.append("")
        lines += _table(f"{head}.{_toml_key(key)}", sub)
    return lines


def _header_names(line: str) -> list[str] | None:
    """The dotted key of a `[table]` header line, unquoted; None for any other line (array tables included)."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    try:
        # Parsing the header alone as TOML gives its key path without a hand-written key lexer.
        parsed: dict[str, Any] = tomllib.loads(stripped)
    except tomllib.TOMLDecodeError:
        return None
    names: list[str] = []
    node: Any = parsed
    while isinstance(node, dict) and len(cast(dict[str, Any], node)) == 1:
        key, node = next(iter(cast(dict[str, Any], node).items()))
        names.append(key)
    return names


def merge_toml(existing: str, name: str, snip: Snippet) -> str:
    """The existing config.toml with `[mcp_servers.NAME]` (and its sub-tables) replaced; all other text kept."""
    try:
        before = tomllib.loads(existing)
    except tomllib.TOMLDecodeError as exc:
        raise HostConfigError(
            f"it is not valid TOML ({exc}). Fix it, or paste the snippet from `clevertap-mcp config codex` by hand."
        ) from None
    kept: list[str] = []
    skipping = False
    for line in existing.splitlines(keepends=True):
        names = _header_names(line)
        if names is not None:
            skipping = names[:2] == ["mcp_servers", name]
        elif line.lstrip().startswith("[["):
            skipping = False
        if not skipping:
            kept.append(line)
    text = "".join(kept).rstrip("\n")
    merged = (text + "\n\n" if text else "") + snip.text
    expected = dict(before)
    servers: Any = expected.get("mcp_servers", {})
    if not isinstance(servers, dict):
        raise HostConfigError("its mcp_servers is not a table. Fix it, or paste the snippet by hand.")
    expected["mcp_servers"] = {**cast(dict[str, Any], servers), name: snip.entry}
    try:
        after = tomllib.loads(merged)
    except tomllib.TOMLDecodeError:
        after = None
    # The line-based edit is only trusted when the result parses to exactly the old file plus our server.
    if after != expected:
        raise HostConfigError(
            f"it defines mcp_servers.{name} in a form this command does not edit (inline or dotted keys). Remove "
            "that server from the file, or paste the snippet by hand."
        )
    return merged


# --- writing -------------------------------------------------------------------------------------------------------


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak{counter}")
        counter += 1
    return candidate


def write_config(host: str, snip: Snippet, path: Path, *, name: str = DEFAULT_NAME) -> Path | None:
    """Merge the snippet into `path` (created if missing). Returns the backup of the old file, if there was one."""
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise HostConfigError(f"{path} cannot be read ({exc}).") from None
    try:
        merged = merge_toml(existing, name, snip) if host == "codex" else merge_json(existing, host, name, snip)
    except HostConfigError as exc:
        raise HostConfigError(f"{path} was left unchanged: {exc}") from None
    backup: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            backup = _backup_path(path)
            shutil.copy2(path, backup)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(merged, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise HostConfigError(f"{path} could not be written ({exc.strerror}).") from None
    return backup
