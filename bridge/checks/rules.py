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
    A calibrated limit is the library's `quantile` (95th, or 5th for "low") moved by `margin` further out.
    Past the default it relaxes: a library of distorted guitars is not flagged for what they all share.
    Inside the default it tightens only where `tightest` allows, and never past it: a physical bound
    (e.g. the DC any ordinary interface's converter leaves) that a take from such a library may reach
    without being at fault. tightest=None: calibration only relaxes this rule.
    scale: how far past the limit severity reaches ~0.75.
    """

    stat: str
    kind: str
    default: float
    worse: str
    margin: float
    scale: float
    describe: Describe
    tightest: float | None = None
    quantile: str = ""  # "" = q95 for "high", q05 for "low"

    @property
    def key(self) -> str:
        """Names the rule among those on the same statistic (a level can be too high and too low)."""
        return f"{self.stat}/{self.worse}"

    def limit(self, calibration: dict | None) -> float:
        """The calibrated limit; a limit `fit`'s false-flag budget chose (calibration["limits"]) wins."""
        chosen = ((calibration or {}).get("limits") or {}).get(self.key)
        if chosen is not None:
            return float(chosen)
        q = ((calibration or {}).get("measurements") or {}).get(self.stat)
        if not q:
            return self.default
        bound = self.default if self.tightest is None else self.tightest
        if self.worse == "high":
            return max(float(q[self.quantile or "q95"]) + self.margin, min(self.default, bound))
        return min(float(q[self.quantile or "q05"]) - self.margin, max(self.default, bound))

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
