"""Summaries of repeated measurements: median and spread (interquartile range, min, max)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    median: float
    p25: float
    p75: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {
            "median": round(self.median, 4),
            "p25": round(self.p25, 4),
            "p75": round(self.p75, 4),
            "min": round(self.low, 4),
            "max": round(self.high, 4),
            "n": self.n,
        }

    def spread(self, digits: int = 1) -> str:
        """`p25–p75` for the table."""
        return f"{self.p25:.{digits}f}–{self.p75:.{digits}f}"


def summarize(samples: list[float]) -> Summary:
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    if len(ordered) >= 2:
        quartiles = statistics.quantiles(ordered, n=4, method="inclusive")
        p25, p75 = quartiles[0], quartiles[2]
    else:
        p25 = p75 = ordered[0]
    return Summary(statistics.median(ordered), p25, p75, ordered[0], ordered[-1], len(ordered))


def paired_ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Ratios of runs made side by side (the same round), so machine noise that hits both cancels out."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]
