"""One false-flag budget for the whole decision: the primary head OR any technical check.

Tuning each part to 5 % on its own makes their OR flag more (a head and nine checks, each at 5 %), so
`fit` chooses them together on the training library: each loop's held-out head score (leave-one-out or
out-of-fold; in-sample for heads that have none) and each loop's check measurements against the
calibrated limits. The checks may use up to `checks_share` of the budget; past that, the limit that
needs the smallest move (in units of its rule's scale) is relaxed to the library's loop, one loop at a
time. The head's threshold then takes what is left, so the combined decision flags `false_flags` of
the library. When the head's held-out scores are not one per loop (Deep SVDD's validation split), the
two are treated as independent: 1 − (1 − head)(1 − checks) = budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loopbridge import checks
from loopbridge.bundle import DEFAULT_FALSE_FLAGS

CHECKS_SHARE = 0.5  # the most of the budget the checks may take before their limits are relaxed


@dataclass
class Budget:
    """What `fit` chose and how the budget was split; written to the manifest's "decision"."""

    false_flags: float
    head: str
    head_threshold: float
    head_quantile: float  # the head's threshold as a quantile of its threshold scores (what sensitivity speaks)
    loops: int  # library loops the split was measured on
    pairing: str  # "per-loop" (head and checks on the same loops), "independent", or "head-only" (no loop measured)
    head_only: float  # share of loops flagged by the head alone (not also by a check)
    checks: float  # share flagged by the checks at their chosen limits
    combined: float  # share flagged by head OR checks
    relaxed: dict[str, dict[str, float]] = field(default_factory=dict)  # rule key → {"from", "to"}

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": "budget",
            "false_flags": self.false_flags,
            "head": self.head,
            "head_threshold": self.head_threshold,
            "head_quantile": self.head_quantile,
            "loops": self.loops,
            "pairing": self.pairing,
            "split": {"head_only": self.head_only, "checks": self.checks, "combined": self.combined},
            "relaxed_limits": self.relaxed,
        }


def check_excess(rows: list[dict[str, float]], calibration: dict[str, Any] | None) -> tuple[list, np.ndarray]:
    """Per loop and rule: how far past its limit (rule scale units; > 0 = flagged)."""
    rules = checks.limits(calibration)
    excess = np.array([[rule.excess(row[rule.stat], limit) for rule, limit in rules] for row in rows], np.float64)
    return rules, excess.reshape(len(rows), len(rules))


def relax_checks(
    rows: list[dict[str, float]], calibration: dict[str, Any] | None, allowed: int
) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """Loosen the cheapest limits until at most `allowed` loops trip a check; returns (flagged per loop, moves)."""
    rules, excess = check_excess(rows, calibration)
    relaxed: dict[str, dict[str, float]] = {}
    flagged = (excess > 0).any(axis=1)
    while flagged.sum() > allowed:
        step = np.where(excess > 0, excess, np.inf)
        j = int(np.argmin(step.min(axis=0)))  # the rule whose smallest move frees a loop
        rule, limit = rules[j]
        moved = float(rows[int(np.argmin(step[:, j]))][rule.stat])  # the limit lands on that loop's value
        relaxed[rule.key] = {"from": relaxed.get(rule.key, {"from": limit})["from"], "to": moved}
        rules[j] = (rule, moved)
        excess[:, j] = [rule.excess(row[rule.stat], moved) for row in rows]
        flagged = (excess > 0).any(axis=1)
    return flagged, relaxed


def choose(
    head: str,
    threshold_scores: np.ndarray,
    row_scores: np.ndarray | None,
    check_rows: list[dict[str, float] | None] | None,
    calibration: dict[str, Any] | None,
    false_flags: float = DEFAULT_FALSE_FLAGS,
    checks_share: float = CHECKS_SHARE,
) -> Budget:
    """The head's threshold and the checks' limits that together flag `false_flags` of the library.

    threshold_scores: the head's sorted held-out scores; row_scores: the same, one per training row in
    row order, or None; check_rows: per training row its check measurements (None: unreadable or silent).
    """
    if not 0.0 < false_flags < 1.0:
        raise ValueError(f"the false-flag budget must be between 0 and 1 (e.g. 0.05), got {false_flags}")
    measured = [i for i, r in enumerate(check_rows or []) if r is not None]
    rows = [r for r in (check_rows or []) if r is not None]
    n = len(rows)
    flagged, relaxed = relax_checks(rows, calibration, math.floor(checks_share * false_flags * n)) if n else (None, {})
    if flagged is not None and row_scores is not None and len(row_scores) == len(check_rows or []):
        scores = np.asarray(row_scores, np.float64)[measured]
        free = np.sort(scores[~flagged])[::-1]  # loops no check flags, most unusual first
        room = max(math.floor(false_flags * n) - int(flagged.sum()), 0)
        threshold = float(free[room]) if room < len(free) else float(free[-1]) - 1e-12
        head_flags = scores > threshold
        combined = float((head_flags | flagged).mean())
        head_only, pairing = float((head_flags & ~flagged).mean()), "per-loop"
        quantile = float(np.mean(np.asarray(threshold_scores) <= threshold))
    else:
        p_checks = float(flagged.mean()) if flagged is not None else 0.0
        p_head = max(1.0 - (1.0 - false_flags) / (1.0 - p_checks), 0.0) if p_checks < 1 else 0.0
        sorted_scores = np.asarray(threshold_scores, np.float64)
        quantile = min(1.0 - p_head, float(np.nextafter(1.0, 0.0)))
        threshold = float(np.quantile(sorted_scores, quantile))
        head_only = float(np.mean(sorted_scores > threshold)) * (1.0 - p_checks)
        combined, pairing = p_checks + head_only, "independent" if flagged is not None else "head-only"
        n = n or len(sorted_scores)
    return Budget(
        false_flags=false_flags,
        head=head,
        head_threshold=threshold,
        head_quantile=quantile,
        loops=n,
        pairing=pairing,
        head_only=head_only,
        checks=float(flagged.mean()) if flagged is not None and len(flagged) else 0.0,
        combined=combined,
        relaxed=relaxed,
    )


def apply_limits(calibration: dict[str, Any] | None, budget: Budget) -> dict[str, Any] | None:
    """The calibration with the budget's relaxed limits, which the checks read first (Rule.limit)."""
    if calibration is None:
        return None
    return {**calibration, "limits": {key: move["to"] for key, move in budget.relaxed.items()}}
