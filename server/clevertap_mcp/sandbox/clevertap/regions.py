"""CleverTap's regions (clevertap-api.md §1), stated once for the emulator, the connector and the Membrane side.

A region is the prefix of its regional host, `<region>.api.clevertap.com`. The plain `api.clevertap.com` host serves
Europe like eu1; it is a host alias, not a region an account can belong to. `sk1` (only in the Java SDK's enum) is
unconfirmed and not served.
"""

from __future__ import annotations

__all__ = ["REGIONS", "REGION_ALIASES", "is_region"]

REGIONS: tuple[str, ...] = ("eu1", "in1", "sg1", "us1", "aps3", "mec1")
# Host prefixes that are not regions themselves, and the region each one serves.
REGION_ALIASES: dict[str, str] = {"api": "eu1"}


def is_region(value: object) -> bool:
    """True for exactly the known region codes (a str subclass or a padded value does not pass)."""
    return type(value) is str and value in REGIONS
