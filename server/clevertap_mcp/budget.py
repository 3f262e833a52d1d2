"""Output budgets: no tool result an agent receives is longer than `max_output_chars`, whatever CleverTap returns.

A result over the budget is cut at a clean boundary and stays valid JSON: the bulk of it (the longest list, an
object's keys, or a long text, found by following whichever part holds most of the size) keeps its leading whole
items, keys or lines. The result then carries a `truncated` object saying what was cut, how many items were left
out, and where the rest is. The whole result is kept in this process (with several HTTP workers, in a directory they
share: `DirectoryResultStore`) and served as the MCP resource
`clevertap://results/{result_id}/{page}`: pages 1..N of its JSON text (indented, so pages end at line ends), each
within the budget; joined in order, they are exactly that JSON. Memory is bounded and shared fairly: each caller's
last `MAX_RESULTS_PER_CALLER` results, at most `MAX_STORED_RESULTS` and `MAX_STORED_CHARS` characters in all, the
greediest caller's least recently used first out (`_evictions`).

This is one mechanism for every tool, applied where tool results leave the server (`BudgetedServer.call_tool`),
so no tool has an extra argument for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent

from clevertap_mcp import redaction
from clevertap_mcp.config import DEFAULT_MAX_OUTPUT_CHARS
from clevertap_mcp.state import current_caller_key

__all__ = [
    "RESULTS_URI",
    "BudgetedServer",
    "Cut",
    "DirectoryResultStore",
    "ResultStore",
    "Results",
    "fit",
    "json_size",
    "pages_of",
]

RESULTS_URI = "clevertap://results/{result_id}/{page}"
# Each caller keeps its last MAX_RESULTS_PER_CALLER cut results; all callers together at most these totals.
MAX_RESULTS_PER_CALLER = 20
MAX_STORED_RESULTS = 1000
MAX_STORED_CHARS = 16_000_000  # ~16 MB of kept pages at most: the stdio server aims to stay under 80 MiB
RESULT_ID = re.compile(r"[0-9a-f]{16}")
# Room kept for the `truncated` notice itself when fitting the data.
NOTICE_RESERVE = 700
# A part holding at least this share of its parent's size is where the bulk is: cut inside it, not beside it.
BULK_SHARE = 0.5
MAX_CUTS = 8
# The notice lists this many cuts at most, so it stays small whatever the data looks like.
MAX_LISTED_CUTS = 3

LifespanT = TypeVar("LifespanT")

logger = logging.getLogger(__name__)


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def json_size(value: Any) -> int:
    """Characters of `value` as compact JSON (what the agent reads, give or take whitespace)."""
    return len(_compact_json(value))


@dataclass(frozen=True)
class Cut:
    path: str
    kept: int
    total: int
    unit: str  # "items", "keys" or "characters"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "kept": self.kept, "omitted": self.total - self.kept, "unit": self.unit}


def _children(node: Any) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        return list(node.items())  # pyright: ignore[reportUnknownArgumentType, reportUnknownMemberType]
    if isinstance(node, list):
        return list(enumerate(node))  # pyright: ignore[reportUnknownArgumentType]
    return []


def _bulk_path(value: Any) -> list[Any]:
    """The path to the part to cut: follow the child holding most of the size while it holds most of it.

    The root is never cut itself (its keys are the tool's output schema); its biggest part always is.
    """
    path: list[Any] = []
    node = value
    root = True
    while True:
        children = _children(node)
        if not children:
            return path
        key, child = max(children, key=lambda kv: json_size(kv[1]))
        if not root and json_size(child) < BULK_SHARE * json_size(node):
            return path
        if not isinstance(child, dict | list | str):
            return path
        path.append(key)
        node = cast(Any, child)
        root = False


def _get(value: Any, path: list[Any]) -> Any:
    for key in path:
        value = value[key]
    return value


def _replace(value: Any, path: list[Any], new: Any) -> Any:
    """A copy of `value` with the node at `path` replaced; only the containers on the path are copied."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy: dict[Any, Any] = dict(value)  # pyright: ignore[reportUnknownArgumentType]
    else:
        copy = dict(enumerate(value))  # pyright: ignore[reportUnknownArgumentType]
    copy[key] = _replace(copy[key], rest, new)
    return copy if isinstance(value, dict) else list(copy.values())


def _cut_node(node: Any, room: int) -> tuple[Any, int, int, str]:
    """The longest clean prefix of `node` whose JSON fits in `room` characters: (prefix, kept, total, unit)."""
    if isinstance(node, str):
        return _cut_text(node, room)
    items = _children(node)
    used, kept = 2, 0
    for key, child in items:
        size = json_size(child) + (json_size(str(key)) + 1 if isinstance(node, dict) else 0) + (1 if kept else 0)
        if used + size > room:
            break
        used += size
        kept += 1
    if isinstance(node, dict):
        return dict(items[:kept]), kept, len(items), "keys"
    return [child for _, child in items[:kept]], kept, len(items), "items"


def _cut_text(text: str, room: int) -> tuple[str, int, int, str]:
    end = max(0, room - 2)
    while end > 0 and json_size(text[:end]) > room:
        end -= max(1, json_size(text[:end]) - room)
    line_end = text.rfind("\n", 0, end)
    if line_end > end // 2:
        end = line_end + 1  # whole lines, unless that would throw away most of what fits
    return text[:end], end, len(text), "characters"


# A top-level part this small (an id, a status) is kept whole even when everything else must be emptied.
SMALL_PART = 100
# Keys that read as names are shown bare (`output.records`); any other key is data that could read as a sentence, so
# it is shown quoted and cut short (`output["Notes: …"]`), and so is a path too long to be useful.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
MAX_KEY_CHARS = 40
MAX_PATH_CHARS = 120


def _path_text(path: list[Any]) -> str:
    parts: list[str] = []
    for i, key in enumerate(path):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _PLAIN_KEY.fullmatch(key):
            parts.append(f".{key}" if i else key)
        else:
            parts.append(f"[{_quoted(key, MAX_KEY_CHARS)}]")
    text = "".join(parts) or "$"
    if len(text) > MAX_PATH_CHARS:
        half = MAX_PATH_CHARS // 2
        text = f"{text[: half - 1]}…{text[-half:]}"
    return text


def fit(value: Any, budget: int) -> tuple[Any, list[Cut]]:
    """`value` cut down until its compact JSON is at most `budget` characters, and what was cut."""
    cuts: list[Cut] = []
    for _ in range(MAX_CUTS):
        if json_size(value) <= budget:
            break
        path = _bulk_path(value)
        if not path:
            break
        node = _get(value, path)
        empty: Any = "" if isinstance(node, str) else type(node)()
        room = budget - (json_size(_replace(value, path, empty)) - json_size(empty))
        prefix, kept, total, unit = _cut_node(node, max(room, 2))
        value = _replace(value, path, prefix)
        cuts.append(Cut(_path_text(path), kept, total, unit))
    return value, cuts


def _emptied(value: Any) -> Any:
    if isinstance(value, str | list | dict):
        return type(value)()  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return value if json_size(value) <= MAX_KEY_CHARS else None


def _count(value: Any) -> int:
    return len(value) if isinstance(value, str | list | dict) else 1  # pyright: ignore[reportUnknownArgumentType]


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str) else "keys" if isinstance(value, dict) else "items"


def pages_of(text: str, page_chars: int) -> list[str]:
    """`text` in pages of at most `page_chars`, each ending at a line end (or an escaped one, inside a long string)
    where one falls in its second half."""
    pages: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + page_chars)
        if end < len(text):
            half = start + page_chars // 2
            line_end = text.rfind("\n", start, end)
            # Inside one long JSON string, its escaped line ends are the clean places to break.
            escaped_end = text.rfind("\\n", start, end - 1)
            if line_end >= half:
                end = line_end + 1
            elif escaped_end >= half:
                end = escaped_end + 2
        pages.append(text[start:end])
        start = end
    return pages


class Results(Protocol):
    """Where full results are kept for paging: one process's memory, or a directory its workers share."""

    def add(self, pages: list[str], owner: str = "") -> str | None: ...

    def page(self, result_id: str, page: int, owner: str = "") -> str: ...


@dataclass(frozen=True)
class _Kept:
    key: Any
    owner: str
    size: int


def _evictions(kept: list[_Kept], new: Any, *, per_caller: int, max_results: int, max_chars: int) -> list[Any]:
    """Which results to let go, `kept` ordered least recently used first: beyond `per_caller` a caller's own oldest;
    beyond the totals, the oldest of whichever caller holds the most (characters when those are over, else results).
    A caller within its fair share never loses a result to a greedier one; the result just added is never chosen."""
    by_owner: dict[str, list[_Kept]] = {}
    for entry in kept:
        by_owner.setdefault(entry.owner, []).append(entry)
    gone: list[Any] = []
    for entries in by_owner.values():
        while len(entries) > per_caller:
            gone.append(entries.pop(0 if entries[0].key != new else 1).key)
    count = sum(len(entries) for entries in by_owner.values())
    chars = sum(entry.size for entries in by_owner.values() for entry in entries)
    while count > max_results or chars > max_chars:
        candidates = {owner: [e for e in entries if e.key != new] for owner, entries in by_owner.items()}
        candidates = {owner: entries for owner, entries in candidates.items() if entries}
        if not candidates:
            break
        held = {owner: (sum(e.size for e in by_owner[owner]), len(by_owner[owner])) for owner in candidates}
        if chars <= max_chars:
            held = {owner: (count_, size) for owner, (size, count_) in held.items()}
        victim = candidates[max(candidates, key=held.__getitem__)][0]
        by_owner[victim.owner].remove(victim)
        gone.append(victim.key)
        count -= 1
        chars -= victim.size
    return gone


class ResultStore:
    """Full results kept for paging, each caller's own, evicted by `_evictions`."""

    def __init__(
        self,
        max_results: int = MAX_STORED_RESULTS,
        max_chars: int = MAX_STORED_CHARS,
        per_caller: int = MAX_RESULTS_PER_CALLER,
    ) -> None:
        self._max_results = max_results
        self._max_chars = max_chars
        self._per_caller = per_caller
        # result id -> (the caller who made it, its pages, their size), least recently used first: over HTTP,
        # callers never read each other's results.
        self._results: OrderedDict[str, tuple[str, list[str], int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._results)

    def add(self, pages: list[str], owner: str = "") -> str | None:
        """The new result's id, or None when it alone is larger than the store may hold."""
        size = sum(len(page) for page in pages)
        if size > self._max_chars:
            return None
        result_id = uuid.uuid4().hex[:16]
        self._results[result_id] = (owner, pages, size)
        kept = [_Kept(key, who, chars) for key, (who, _, chars) in self._results.items()]
        for key in _evictions(
            kept, result_id, per_caller=self._per_caller, max_results=self._max_results, max_chars=self._max_chars
        ):
            del self._results[key]
        return result_id

    def page(self, result_id: str, page: int, owner: str = "") -> str:
        kept = self._results.get(result_id)
        # Another caller's result answers exactly as a forgotten one does: its existence is not disclosed.
        if kept is None or kept[0] != owner:
            raise _not_kept(result_id, self._per_caller)
        self._results.move_to_end(result_id)
        return _page_of(result_id, kept[1], page)


def _not_kept(result_id: str, per_caller: int) -> ResourceNotFoundError:
    # -32602 (the SDK's "no such resource"), not -32603: nothing failed, the agent asked for what is gone.
    return ResourceNotFoundError(
        f"Result {_quoted(result_id)} is no longer kept (this server keeps each caller's last {per_caller} cut "
        "results). Call the tool again to get it anew, asking for less if you can: a smaller limit, batch_size or "
        "date range."
    )


def _page_of(result_id: str, pages: list[str], page: int) -> str:
    if not 1 <= page <= len(pages):
        raise ResourceNotFoundError(
            f"Result {result_id} has pages 1 to {len(pages)}; there is no page {page}. Read pages 1 to {len(pages)} "
            "in order."
        )
    return pages[page - 1]


def _quoted(text: str, limit: int = 40) -> str:
    """Text that did not come from this server, quoted and bounded wherever the server's own sentence shows it."""
    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


# A kept result's file: 16 hex digits standing for its caller ("server" for the server's own credentials),
# then its id. The caller is in the name so that eviction can share fairly without opening every file.
_RESULT_FILE = re.compile(r"(server|[0-9a-f]{16})_([0-9a-f]{16})\.json")


def _owner_tag(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:16] if owner else "server"


class DirectoryResultStore:
    """The same store in a directory that every worker process of one server shares (`--workers N`).

    Stateless HTTP sends each request to whichever worker accepts it, so the worker that cut a result is rarely the
    one asked for its pages: kept in one process's memory, they would be "no longer kept" for the others. One file
    per result, written whole and renamed into place, so a reader never sees half of one; the bounds hold across
    workers (least recently read or written first out, by file time).
    """

    def __init__(
        self,
        directory: Path,
        max_results: int = MAX_STORED_RESULTS,
        max_chars: int = MAX_STORED_CHARS,
        per_caller: int = MAX_RESULTS_PER_CALLER,
    ) -> None:
        self._directory = directory
        self._max_results = max_results
        self._max_chars = max_chars
        self._per_caller = per_caller

    def __len__(self) -> int:
        return len(self._files())

    def _files(self) -> list[Path]:
        return [path for path in self._directory.glob("*.json") if _RESULT_FILE.fullmatch(path.name)]

    def _path(self, result_id: str, owner: str) -> Path:
        return self._directory / f"{_owner_tag(owner)}_{result_id}.json"

    def add(self, pages: list[str], owner: str = "") -> str | None:
        size = sum(len(page) for page in pages)
        if size > self._max_chars:
            return None
        result_id = uuid.uuid4().hex[:16]
        path = self._path(result_id, owner)
        partial = self._directory / f".{result_id}.partial"
        try:
            partial.write_text(json.dumps({"owner": owner, "pages": pages}, ensure_ascii=False), encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:  # a full disk or a removed directory: the agent still gets the cut result
            logger.warning("A cut result could not be kept in %s for paging: %s", self._directory, exc)
            partial.unlink(missing_ok=True)
            return None
        _touch(path)
        self._evict(keep=path)
        return result_id

    def _evict(self, keep: Path) -> None:
        entries: list[tuple[int, _Kept]] = []
        for path in self._files():
            try:
                status = path.stat()
            except FileNotFoundError:  # another worker evicted it meanwhile
                continue
            match = _RESULT_FILE.fullmatch(path.name)
            assert match is not None
            # File bytes stand in for characters: at least as many, so the character bound holds too.
            entries.append((status.st_mtime_ns, _Kept(path, match.group(1), status.st_size)))
        entries.sort(key=lambda entry: (entry[1].key == keep, entry[0]))  # least recently used first, the new last
        for path in _evictions(
            [kept for _, kept in entries],
            keep,
            per_caller=self._per_caller,
            max_results=self._max_results,
            max_chars=self._max_chars,
        ):
            path.unlink(missing_ok=True)

    def page(self, result_id: str, page: int, owner: str = "") -> str:
        # The id comes from the agent: only an id this store could have made names a file (no path tricks).
        path = self._path(result_id, owner)
        try:
            kept: dict[str, Any] = (
                json.loads(path.read_text(encoding="utf-8")) if RESULT_ID.fullmatch(result_id) else {}
            )
        except FileNotFoundError:
            kept = {}
        if kept.get("owner") != owner:
            raise _not_kept(result_id, self._per_caller)
        _touch(path)  # read again: most recently used
        return _page_of(result_id, cast(list[str], kept["pages"]), page)


def _touch(path: Path) -> None:
    """Mark `path` used now, to the nanosecond: the file system's own times are too coarse to order two results kept
    within the same few milliseconds."""
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(path, ns=(now, now))


class Budget:
    def __init__(self, max_chars: int, store: Results) -> None:
        self.max_chars = max_chars
        self.store = store

    def apply(self, result: CallToolResult) -> CallToolResult:
        if result.is_error or result.structured_content is None:
            return self._cut_plain(result)
        text_size = sum(len(b.text) for b in result.content if isinstance(b, TextContent))
        full = result.structured_content
        compact = _compact_json(full)
        if len(compact) <= self.max_chars:
            if text_size <= self.max_chars:
                return result
            # Only the SDK's indented rendering is over: the same data, compact, is within the budget.
            return CallToolResult(content=[TextContent(type="text", text=compact)], structured_content=full)
        full_text = json.dumps(full, ensure_ascii=False, indent=1, default=str)
        pages = pages_of(full_text, self.max_chars)
        result_id = self.store.add(pages, current_caller_key())
        room = self.max_chars - NOTICE_RESERVE
        while True:
            trimmed, cuts = fit(full, room)
            shown: dict[str, Any] = {**trimmed, "truncated": self._notice(cuts, result_id, len(pages))}
            text = _compact_json(shown)
            if len(text) <= self.max_chars or room == 0:
                break
            room = max(0, room - (len(text) - self.max_chars))
        if len(text) > self.max_chars:
            # Shapes the cuts cannot shrink enough (a key longer than the budget): every top-level part is emptied,
            # keeping its type; the notice, bounded by construction, always fits the smallest budget.
            large = {key for key, value in full.items() if json_size(value) > SMALL_PART}
            cuts = [Cut(_path_text([key]), 0, _count(full[key]), _unit(full[key])) for key in large]
            emptied = {key: _emptied(value) if key in large else value for key, value in full.items()}
            shown = {**emptied, "truncated": self._notice(cuts, result_id, len(pages))}
            text = _compact_json(shown)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=shown)

    def _notice(self, cuts: list[Cut], result_id: str | None, page_count: int) -> dict[str, Any]:
        listed = cuts[:MAX_LISTED_CUTS]
        # Paths come from data: quoted, so that no key can read as the server's own words.
        what = "; ".join(f"{_quoted(c.path, MAX_PATH_CHARS)}: kept {c.kept} of {c.total} {c.unit}" for c in listed)
        what = what or "nothing could be cut"
        if len(cuts) > len(listed):
            what += f"; and {len(cuts) - len(listed)} more cuts"
        if result_id is None:
            where = "The full result is too large to keep; ask for less."
        else:
            first = RESULTS_URI.format(result_id=result_id, page=1)
            where = (
                f"The whole result is kept as MCP resource pages 1 to {page_count} of {RESULTS_URI} with this "
                f"result_id (first: {first}); read them in order and join them to get its exact JSON."
            )
        return {
            "message": (
                f"This result is over the {self.max_chars}-character output budget, so it was cut ({what}). "
                f"{where} Or ask for less: a smaller batch_size, limit or date range, or the next cursor."
            ),
            "result_id": result_id,
            "pages": page_count if result_id is not None else 0,
            "cuts": [c.as_json() for c in listed],
        }

    def _cut_plain(self, result: CallToolResult) -> CallToolResult:
        texts = [b.text for b in result.content if isinstance(b, TextContent)]
        total = sum(len(t) for t in texts)
        if total <= self.max_chars:
            return result
        text = "\n".join(texts)
        keep = self.max_chars - 200
        cut, _, _, _ = _cut_text(text, keep)
        notice = f"\n[cut: {len(text) - len(cut)} more characters were left out to stay within the output budget]"
        return CallToolResult(content=[TextContent(type="text", text=cut + notice)], is_error=result.is_error)


class BudgetedServer(MCPServer[LifespanT], Generic[LifespanT]):
    """The MCP server, with every tool result held to the output budget and the rest served as resources."""

    def __init__(
        self,
        *args: Any,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        results_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        store: Results = DirectoryResultStore(results_dir) if results_dir is not None else ResultStore()
        self.budget = Budget(max_output_chars, store)

        @self.resource(
            RESULTS_URI,
            name="clevertap-result-page",
            description="A page of a tool result that was over the output budget; join pages 1..N in order.",
            mime_type="text/plain",
        )
        def result_page(result_id: str, page: int) -> str:  # pyright: ignore[reportUnusedFunction]
            return store.page(result_id, page, current_caller_key())

    async def run_stdio_async(self) -> None:
        # Unreadable lines get a parse error instead of silence (stdio_parse_errors.py).
        from clevertap_mcp.stdio_parse_errors import run_stdio

        await run_stdio(self)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            # What this call's answers echo is masked in this call and the caller's later ones, never another's.
            with redaction.scope(caller=current_caller_key()):
                result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            message = str(exc)
            if len(message) <= self.budget.max_chars or type(exc) is not ToolError:
                raise
            cut, _, _, _ = _cut_text(message, self.budget.max_chars - 200)
            raise ToolError(f"{cut}\n[cut: the error was over the output budget]") from exc.__cause__
        if isinstance(result, InputRequiredResult):
            return result
        return self.budget.apply(result)
