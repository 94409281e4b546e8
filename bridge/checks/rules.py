"""From measurements to findings: limits (defaults, or relaxed by a calibrated library), severity, messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..results import Finding
from .take import Where

Describe = Callable[[float, Where], str]


@dataclass(frozen=True)
class Rule:
    """One measurement's verdict.

    worse: "high" when larger values are worse, "low" otherwise. default: the limit without calibration.
    A calibrated limit is the library's 95th (or 5th) percentile moved by `margin` further out, never
    stricter than the default: calibration stops a library of distorted guitars being flagged for what
    they all share, it does not invent new faults. scale: how far past the limit severity reaches ~0.75.
    """

    stat: str
    kind: str
    default: float
    worse: str
    margin: float
    scale: float
    describe: Describe

    def limit(self, calibration: dict | None) -> float:
        q = ((calibration or {}).get("measurements") or {}).get(self.stat)
        if not q:
            return self.default
        if self.worse == "high":
            return max(self.default, float(q["q95"]) + self.margin)
        return min(self.default, float(q["q05"]) - self.margin)

    def excess(self, value: float, limit: float) -> float:
        """How far past the limit, in units of `scale` (negative = within limits)."""
        return ((value - limit) if self.worse == "high" else (limit - value)) / self.scale

    def finding(self, value: float, limit: float, where: Where) -> Finding | None:
        e = self.excess(value, limit)
        if not e > 0:
            return None
        severity = float(np.clip(1.0 - 0.7 * np.exp(-e), 0.0, 1.0))  # 0.3 at the limit, ~0.75 at one scale past it
        return Finding(
            self.kind,
            round(severity, 3),
            round(where.start_s, 4),
            round(where.duration_s, 4),
            self.describe(value, where),
        )
