"""Injected faults: the sandbox misbehaving on purpose for the next N matching requests, on either side.

Faults are registered through the control plane (`POST /_sandbox/faults`, control.py) and applied by its request
middleware before the emulated routes see the request. A request takes at most one fault: the oldest pending one that
matches it. That fault's `remaining` count drops by one, and at zero it is forgotten.

Matching:
- `side`: "membrane" is the Membrane API and the connect page; "clevertap" is the CleverTap emulator, which is where
  the Membrane emulator's own upstream calls land (action runs, the proxy, the connect page's credential check), so a
  CleverTap fault is seen by Membrane exactly as a misbehaving CleverTap would be.
- `method`: any when absent.
- `path`, a glob (`*` stays within one segment, `**` crosses segments), or `pathPrefix`, a plain prefix; every path
  when both are absent. CleverTap paths are matched as CleverTap sees them, without the sandbox's mount
  `/clevertap/{region}`: `/1/upload`. `region` narrows a CleverTap fault to one region.

Kinds, and the fields each takes besides the matching ones and `count` (1..10000, default 1):

    status          `status` (default 503) with the side's own error body (Membrane's ErrorData, or CleverTap's
                    {"status": "fail", "error", "code"} with its real 429 and 401 texts), or `body` (any JSON) instead
    latency         `seconds` (0 < s <= 120): wait, then serve the request normally; other requests go on meanwhile
    drop            `stage`: "before_response" (default; the connection closes with no status line at all) or
                    "mid_response" (the real response's headers announcing its full length, the first half of its
                    body, then the close)
    malformed_json  `status` (default 200): application/json holding a JSON document cut short
    html            `status` (default 502): a reverse proxy's text/html error page
    empty           `status` (default 200): application/json with no body at all
    oversized       `status` (default 200), `bytes` (16..64 MiB, default 5 MiB): a valid JSON object of exactly that size

Every kind that answers (all but latency and drop) also takes `retryAfter`, sent as `Retry-After`: whole seconds (an
integer, or a string of digits) or an HTTP-date such as "Wed, 21 Oct 2026 07:28:00 GMT".

How each kind reaches the wire is fault_injection.py.
"""

from __future__ import annotations

import email.utils
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from starlette.types import Scope

from clevertap_mcp.sandbox.clevertap.regions import REGIONS
from clevertap_mcp.sandbox.membrane.errors import MembraneError
from clevertap_mcp.sandbox.tenant_worlds import TENANT_SEGMENT

__all__ = [
    "CLEVERTAP_PREFIX",
    "Fault",
    "FaultBook",
    "Kind",
    "Side",
    "Stage",
    "Target",
    "target_of",
]

CLEVERTAP_PREFIX = "/clevertap"
MAX_COUNT = 10_000
# Pending faults at once: far more than any harness needs, and a runaway loop cannot grow the list without bound.
MAX_PENDING_FAULTS = 1000
MAX_LATENCY_SECONDS = 120.0
DEFAULT_OVERSIZED_BYTES = 5 * 1024 * 1024
MIN_OVERSIZED_BYTES = 16
MAX_OVERSIZED_BYTES = 64 * 1024 * 1024
_METHOD = re.compile(r"[A-Za-z]{1,20}")
_PATH = re.compile(r"/[!-~]{0,499}")
_RETRY_AFTER = re.compile(r"[ -~]{1,64}")

E = TypeVar("E", bound=StrEnum)


class Side(StrEnum):
    MEMBRANE = "membrane"
    CLEVERTAP = "clevertap"


class Kind(StrEnum):
    STATUS = "status"
    LATENCY = "latency"
    DROP = "drop"
    MALFORMED_JSON = "malformed_json"
    HTML = "html"
    EMPTY = "empty"
    OVERSIZED = "oversized"


class Stage(StrEnum):
    BEFORE_RESPONSE = "before_response"
    MID_RESPONSE = "mid_response"


_MATCHING = frozenset({"side", "method", "path", "pathPrefix", "region", "count", "kind"})
_ANSWERING = frozenset({"status", "retryAfter"})
_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.STATUS: _ANSWERING | {"body"},
    Kind.LATENCY: frozenset({"seconds"}),
    Kind.DROP: frozenset({"stage"}),
    Kind.MALFORMED_JSON: _ANSWERING,
    Kind.HTML: _ANSWERING,
    Kind.EMPTY: _ANSWERING,
    Kind.OVERSIZED: _ANSWERING | {"bytes"},
}
_DEFAULT_STATUS = {Kind.STATUS: 503, Kind.HTML: 502}


@dataclass(frozen=True)
class Target:
    """A request as faults see it: CleverTap paths without the sandbox's `/clevertap/{region}` mount."""

    side: Side
    method: str
    path: str
    region: str | None = None


def target_of(scope: Scope) -> Target:
    path = cast(str, scope["path"])
    method = cast(str, scope["method"])
    if path == CLEVERTAP_PREFIX or path.startswith(CLEVERTAP_PREFIX + "/"):
        region, _, inner = path[len(CLEVERTAP_PREFIX) :].lstrip("/").partition("/")
        if region == TENANT_SEGMENT:  # another tenant's world (tenant_worlds.py): /tenant/{segment}/{region}/...
            region, _, inner = inner.partition("/")[2].partition("/")
        return Target(Side.CLEVERTAP, method, "/" + inner, region or None)
    return Target(Side.MEMBRANE, method, path)


@dataclass
class Fault:
    id: str
    kind: Kind
    side: Side
    remaining: int
    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    region: str | None = None
    status: int | None = None
    retry_after: str | None = None
    body: Any = None
    has_body: bool = False
    seconds: float | None = None
    stage: Stage | None = None
    size: int | None = None
    applied: int = 0
    _glob: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, target: Target) -> bool:
        return (
            target.side is self.side
            and (self.method is None or target.method == self.method)
            and (self.region is None or target.region == self.region)
            and (self._glob is None or self._glob.fullmatch(target.path) is not None)
            and (self.path_prefix is None or target.path.startswith(self.path_prefix))
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind.value, "side": self.side.value}
        optional: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "pathPrefix": self.path_prefix,
            "region": self.region,
            "status": self.status,
            "retryAfter": self.retry_after,
            "seconds": self.seconds,
            "stage": self.stage.value if self.stage is not None else None,
            "bytes": self.size,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        if self.has_body:
            body["body"] = self.body
        body.update(remaining=self.remaining, applied=self.applied)
        return body


class FaultBook:
    """The pending faults, oldest first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Mapping[str, Any]) -> Fault:
        """Register a fault from its JSON spec; 400 `bad_request` saying what to change when the spec is wrong."""
        if len(self._faults) >= MAX_PENDING_FAULTS:
            raise MembraneError(
                f"{MAX_PENDING_FAULTS} faults are already pending; clear them with DELETE /_sandbox/faults "
                "(or one with DELETE /_sandbox/faults/{id}) before adding more"
            )
        fault = parse_fault(spec, f"fault_{next(self._ids):04d}")
        self._faults.append(fault)
        return fault

    def take(self, target: Target) -> Fault | None:
        """The fault this request gets, if any, counted as applied."""
        for fault in self._faults:
            if fault.matches(target):
                fault.remaining -= 1
                fault.applied += 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def remove(self, fault_id: str) -> bool:
        kept = [fault for fault in self._faults if fault.id != fault_id]
        removed = len(kept) != len(self._faults)
        self._faults = kept
        return removed

    def clear(self) -> int:
        cleared = len(self._faults)
        self._faults = []
        return cleared

    def reset(self) -> None:
        """As new: no faults, ids from fault_0001 again (a reset sandbox hands out the same ids as a fresh one)."""
        self.clear()
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._faults)


def parse_fault(spec: Mapping[str, Any], fault_id: str) -> Fault:
    kind = _choice(spec, "kind", Kind)
    side = _choice(spec, "side", Side)
    allowed = _MATCHING | _FIELDS[kind]
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise MembraneError(
            f"Fault field '{unknown[0][:40]}' does not apply to a '{kind}' fault; it takes: {', '.join(sorted(allowed))}"
        )
    path, path_prefix = _path(spec, "path"), _path(spec, "pathPrefix")
    if path is not None and path_prefix is not None:
        raise MembraneError("Give a fault either 'path' (a glob) or 'pathPrefix', not both")
    region = spec.get("region")
    if region is not None and (side is not Side.CLEVERTAP or region not in REGIONS):
        raise MembraneError(f"A fault's 'region' narrows a clevertap-side fault to one of {', '.join(REGIONS)}")
    fault = Fault(
        id=fault_id,
        kind=kind,
        side=side,
        remaining=_integer(spec, "count", 1, MAX_COUNT, default=1),
        method=_method(spec.get("method")),
        path=path,
        path_prefix=path_prefix,
        region=cast(str | None, region),
        _glob=_glob(path) if path is not None else None,
    )
    if "status" in _FIELDS[kind]:
        fault.status = _integer(spec, "status", 200, 599, default=_DEFAULT_STATUS.get(kind, 200))
        fault.retry_after = _retry_after(spec.get("retryAfter"))
    if kind is Kind.STATUS and "body" in spec:
        fault.body, fault.has_body = spec["body"], True
    elif kind is Kind.LATENCY:
        fault.seconds = _seconds(spec.get("seconds"))
    elif kind is Kind.DROP:
        fault.stage = _choice(spec, "stage", Stage, default=Stage.BEFORE_RESPONSE)
    elif kind is Kind.OVERSIZED:
        default = DEFAULT_OVERSIZED_BYTES
        fault.size = _integer(spec, "bytes", MIN_OVERSIZED_BYTES, MAX_OVERSIZED_BYTES, default=default)
    return fault


def _choice(spec: Mapping[str, Any], name: str, enum: type[E], *, default: E | None = None) -> E:
    value = spec.get(name)
    if value is None and default is not None:
        return default
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise MembraneError(f"A fault's '{name}' must be one of: {choices}") from None


def _integer(spec: Mapping[str, Any], name: str, low: int, high: int, *, default: int) -> int:
    value = spec.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise MembraneError(f"A fault's '{name}' must be an integer from {low} to {high}")
    return value


def _method(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _METHOD.fullmatch(value):
        raise MembraneError("A fault's 'method' must be an HTTP method such as GET or POST (leave it out for any)")
    return value.upper()


def _path(spec: Mapping[str, Any], name: str) -> str | None:
    value = spec.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        raise MembraneError(
            f"A fault's '{name}' must start with '/' and hold printable ASCII only, such as '/1/upload' "
            "(CleverTap paths without '/clevertap/{region}')"
        )
    return value


def _glob(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join(".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts))


def _seconds(value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= MAX_LATENCY_SECONDS
    ):
        raise MembraneError(f"A latency fault needs 'seconds', a number above 0 and at most {MAX_LATENCY_SECONDS:g}")
    return float(value)


def _retry_after(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is int and value >= 0:
        return str(value)
    if isinstance(value, str) and _RETRY_AFTER.fullmatch(value):
        if value.isdigit():
            return value
        try:
            email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            pass
        else:
            return value
    raise MembraneError(
        "A fault's 'retryAfter' must be whole seconds (such as 5) or an HTTP-date "
        "(such as 'Wed, 21 Oct 2026 07:28:00 GMT')"
    )
