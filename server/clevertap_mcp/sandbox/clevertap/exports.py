"""Cursor pagination of /1/events.json and /1/profiles.json (clevertap-api.md §8), declared once for both.

A query is evaluated when it is POSTed; the cursor walks that snapshot of matching items (events, or profiles with
their event summaries). Each page renders its items when it is fetched, so opening an export over 100k profiles costs
one pass over the data, not 100k records up front; a profile changed between pages shows its current fields. Cursors are base64-like tokens handed out
percent-encoded; the store keeps them decoded, so a client that passes them on untouched finds them after the
server's single decode, and one that encoded them again does not.

Snapshots are held only while a cursor can still reach them: expired exports are purged on every open and page (and
by the world on every request of the account), and at most MAX_EXPORTS are held per account. Past that, opening one drops the least recently used export first, whose
cursors then answer CURSOR_INVALIDATED like expired ones (the client reissues the query, §8).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from clevertap_mcp.sandbox.clevertap.errors import CursorInvalidated, IncorrectUsage, StillInProgress

__all__ = ["MAX_EXPORTS", "CursorPolicy", "CursorStore"]

MAX_EXPORTS = 64


@dataclass(frozen=True)
class CursorPolicy:
    ttl: float  # seconds from the query's creation
    idle_ttl: float | None  # seconds since the last page fetch, None when cursors never idle out


@dataclass
class _Export:
    kind: str
    items: Sequence[Any]
    render: Callable[[Any], dict[str, Any]]
    batch_size: int
    policy: CursorPolicy
    created: float
    last_used: float
    pending_polls: int  # first-page fetches still to answer "Request still in progress"
    serial: int  # the store's key for this export
    tokens: list[str] = field(default_factory=list[str])  # every cursor issued on this export


@dataclass
class _Cursor:
    export: _Export
    offset: int
    next_token: str | None = None


class CursorStore:
    """One account's cursors."""

    def __init__(self, account_id: str, *, limit: int = MAX_EXPORTS) -> None:
        self._account_id = account_id
        self._limit = limit
        self._cursors: dict[str, _Cursor] = {}
        # Live exports, least recently used first (a page fetch moves its export to the end).
        self._exports: dict[int, _Export] = {}
        self._opened = 0
        self._issued = 0

    @property
    def export_count(self) -> int:
        return len(self._exports)

    @property
    def cursor_count(self) -> int:
        return len(self._cursors)

    def open(
        self,
        kind: str,
        items: Sequence[Any],
        *,
        batch_size: int,
        policy: CursorPolicy,
        now: float,
        pending_polls: int,
        render: Callable[[Any], dict[str, Any]] = dict,
    ) -> str:
        """A new export over `items`, each rendered as a record by `render` when its page is fetched (by default
        the items are records already); returns its first cursor, percent-encoded as CleverTap sends it."""
        self.purge(now)
        while len(self._exports) >= self._limit:
            self._forget(next(iter(self._exports.values())))
        self._opened += 1
        export = _Export(kind, items, render, batch_size, policy, now, now, pending_polls, self._opened)
        self._exports[export.serial] = export
        return quote(self._issue(export, 0), safe="")

    def page(self, kind: str, cursor: str, now: float) -> dict[str, Any]:
        """The page at `cursor` (already decoded once by the HTTP layer) as CleverTap's success body."""
        self.purge(now)
        entry = self._cursors.get(cursor)
        if entry is None or entry.export.kind != kind:
            if entry is None and "%" in cursor and unquote(cursor) in self._cursors:
                raise IncorrectUsage
            raise CursorInvalidated
        export = entry.export
        export.last_used = now
        self._exports[export.serial] = self._exports.pop(export.serial)  # now the most recently used
        if entry.offset == 0 and export.pending_polls > 0:
            export.pending_polls -= 1
            raise StillInProgress
        records = [export.render(item) for item in export.items[entry.offset : entry.offset + export.batch_size]]
        body: dict[str, Any] = {"status": "success", "previous_cursor": cursor}
        end = entry.offset + export.batch_size
        if end < len(export.items):
            if entry.next_token is None:
                entry.next_token = self._issue(export, end)
            body["next_cursor"] = quote(entry.next_token, safe="")
        if records:
            # An empty range comes back with no `records` key at all (lib-observed).
            body["records"] = records
        return body

    def _issue(self, export: _Export, offset: int) -> str:
        self._issued += 1
        digest = hashlib.sha256(f"{self._account_id}:{export.kind}:{self._issued}".encode()).digest()
        token = base64.b64encode(digest[:16]).decode()  # 24 chars ending in "==", with + and / as CleverTap's do
        self._cursors[token] = _Cursor(export, offset)
        export.tokens.append(token)
        return token

    @staticmethod
    def _expired(export: _Export, now: float) -> bool:
        if now - export.created > export.policy.ttl:
            return True
        return export.policy.idle_ttl is not None and now - export.last_used > export.policy.idle_ttl

    def purge(self, now: float) -> None:
        """Drop every expired export and its cursors."""
        for export in [export for export in self._exports.values() if self._expired(export, now)]:
            self._forget(export)

    def _forget(self, export: _Export) -> None:
        del self._exports[export.serial]
        for token in export.tokens:
            self._cursors.pop(token, None)
