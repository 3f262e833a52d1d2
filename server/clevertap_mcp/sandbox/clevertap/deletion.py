"""Taking profiles apart: /1/delete/profiles.json and /1/demerge/profiles.json (clevertap-api.md §12, §13, §14 #39).

Deletion is asynchronous in CleverTap: an accepted request only schedules the profiles' removal, at `at`; the
world carries it out once its clock passes that (state.py `_settle`). Demerge undoes what identity merging did:
the identity leaves the profile it was joined to, which keeps its objectId and data, so the next record with that
identity starts a profile of its own. Unknown ids are accepted quietly by both (CleverTap does not say which
ids it knew).
"""

from __future__ import annotations

from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.errors import Refused
from clevertap_mcp.sandbox.clevertap.model import Account

__all__ = ["MAX_IDS", "demerge_profiles", "schedule_deletion"]

MAX_IDS = 100  # per array, for both calls


def _id_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    values: list[Any] = cast(list[Any], value) if isinstance(value, list) else [value]
    if len(values) > MAX_IDS:
        raise Refused(f"{name} takes at most {MAX_IDS} values per request", 400)
    if not all(isinstance(one, str) and one for one in values):
        raise Refused(f"{name} must be a string or a list of strings", 400)
    return [str(one) for one in values]


def schedule_deletion(account: Account, body: dict[str, Any], at: float) -> None:
    """Mark the profiles named by `identity` and/or `guid` for removal at `at` (epoch seconds)."""
    identities, guids = _id_list(body, "identity"), _id_list(body, "guid")
    if not identities and not guids:
        raise Refused("identity or guid is required", 400)
    found = [account.find(identity=value) for value in identities]
    found += [account.find(object_id=value) for value in guids]
    for profile in found:
        if profile is not None:
            account.pending_deletions[profile.object_id] = at


def demerge_profiles(account: Account, body: dict[str, Any]) -> None:
    """Detach each of `identities` (one string or a list, §16) from its profile."""
    identities = body.get("identities")
    if not identities or not isinstance(identities, (list, str)):
        raise Refused("identities is mandatory: an identity, or a list of 1 to 100 identities", 400)
    for identity in _id_list(body, "identities"):
        profile = account.find(identity=identity)
        if profile is not None:
            profile.identity = None
            del account.by_identity[identity]
