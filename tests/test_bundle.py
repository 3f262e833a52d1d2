"""The Claude Desktop bundle's manifest and the MCP registry's server.json, checked offline against the schemas their
tools publish (tests/fixtures/README.md says where each comes from).

Building the bundle with `mcpb pack`, `mcpb validate`, and starting it as Claude Desktop does are scripts/bundle and
scripts/bundle-check, in CI; these tests hold what those cannot see: that every value a user types reaches the server
under a name it reads, that secrets are marked so, and that the versions and tool lists agree with the package.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from clevertap_mcp.cli.hosts import ENV_VARS

from helpers import mcp_client

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CREDENTIAL_FIELDS = {"membrane_token", "workspace_key", "workspace_secret", "tenant_key"}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = _json(ROOT / "bundle" / "manifest.json")
    return loaded


def _version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def _server_reads() -> set[str]:
    source = "\n".join(path.read_text() for path in (ROOT / "server" / "clevertap_mcp").rglob("*.py"))
    return set(re.findall(r"[\"']((?:MEMBRANE|CLEVERTAP_MCP)_[A-Z0-9_]*[A-Z0-9])[\"']", source))


def test_the_bundle_manifest_is_a_valid_mcpb_0_4_manifest_of_a_uv_server(manifest: dict[str, Any]) -> None:
    jsonschema.validate(manifest, _json(FIXTURES / "mcpb-manifest-v0.4.schema.json"))
    assert manifest["manifest_version"] == "0.4" and manifest["server"]["type"] == "uv"
    assert manifest["version"] == _version()
    # uv runs the package's own console script from the unpacked bundle; scripts/bundle puts these files there.
    assert manifest["server"]["mcp_config"]["command"] == "uv"
    assert manifest["server"]["mcp_config"]["args"][-1] == "clevertap-mcp"
    assert (ROOT / manifest["server"]["entry_point"]).is_file()


def test_every_user_config_value_reaches_a_variable_the_server_reads_and_credentials_stay_in_the_keychain(
    manifest: dict[str, Any],
) -> None:
    env: dict[str, str] = manifest["server"]["mcp_config"]["env"]
    fields: dict[str, Any] = manifest["user_config"]
    used = {match for value in env.values() for match in re.findall(r"\$\{user_config\.([a-z_]+)\}", value)}
    assert used == set(fields), "a field the user fills that reaches no variable, or a variable naming no field"
    assert set(env) <= _server_reads()
    assert set(ENV_VARS) <= set(env)
    assert {name for name, field in fields.items() if field.get("sensitive")} == CREDENTIAL_FIELDS
    # Either a token or a workspace key and secret will do, so no credential is required on its own; each has a
    # default, so an empty field reaches the server as "", which it takes as unset and names in its error.
    assert all(
        not field.get("required") and field.get("default") == ""
        for name, field in fields.items()
        if name in CREDENTIAL_FIELDS
    )


async def test_the_manifest_lists_the_tools_the_server_serves(manifest: dict[str, Any]) -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        served = [tool.name for tool in (await client.list_tools()).tools]
    assert [tool["name"] for tool in manifest["tools"]] == served


def test_server_json_is_valid_for_the_mcp_registry_and_names_the_package_readme_and_variables() -> None:
    server = _json(ROOT / "server.json")
    schema = _json(FIXTURES / "mcp-registry-server.schema.json")
    jsonschema.validate(server, schema)
    assert server["$schema"] == schema["$id"]
    assert server["version"] == _version()
    (package,) = server["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == "clevertap-mcp"
    assert package["version"] == _version()
    variables = {variable["name"]: variable for variable in package["environmentVariables"]}
    assert set(variables) <= _server_reads() and set(ENV_VARS) <= set(variables)
    assert all(variables[name]["isSecret"] for name in ENV_VARS)
    # The registry accepts a PyPI package only when its README (the package's long description) names the server.
    assert f"mcp-name: {server['name']}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_registry_schema_refuses_what_the_registry_refuses() -> None:
    schema = _json(FIXTURES / "mcp-registry-server.schema.json")
    server = _json(ROOT / "server.json")
    for broken in (
        {**server, "name": "clevertap-mcp"},  # no namespace
        {**server, "description": "x" * 101},
        {**server, "packages": [{**server["packages"][0], "version": "latest"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
