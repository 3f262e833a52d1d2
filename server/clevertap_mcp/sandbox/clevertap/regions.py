"""CleverTap's regions (clevertap-api.md §1), stated once for the emulator, the connector and the Membrane side.

A region is the prefix of its regional host, `<region>.api.clevertap.com`. The plain `api.clevertap.com` host serves
Europe like eu1; it is a host alias, not a region an account can belong to. `sk1` (only in the Java SDK's enum) is
unconfirmed: not served by default, and served with no accounts (so every call there is 401, as on a wrong region)
when SandboxSettings.serve_sk1 is on. Either way it is not a region a connection can choose.
"""

from __future__ import annotations

__all__ = ["REGIONS", "REGION_ALIASES", "UNCONFIRMED_REGION", "is_region"]

REGIONS: tuple[str, ...] = ("eu1", "in1", "sg1", "us1", "aps3", "mec1")
# Host prefixes that are not regions themselves, and the region each one serves.
REGION_ALIASES: dict[str, str] = {"api": "eu1"}
# The host prefix only the Java SDK's enum lists (§1); SandboxSettings.serve_sk1 decides whether it answers.
UNCONFIRMED_REGION = "sk1"


def is_region(value: object) -> bool:
    """True for exactly the known region codes (a str subclass or a padded value does not pass)."""
    return type(value) is str and value in REGIONS
