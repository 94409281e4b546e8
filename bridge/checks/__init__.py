"""Technical checks on the raw take: silence, clipping, clicks, dropouts, DC, polarity, truncation, noise, level.

They run on the file as recorded (native rate and channels, before mix-down), take a few
milliseconds, and give reasons a musician can act on. Each family is a module with `measure(take)`
(raw statistics plus where the worst case is) and `RULES` (limit, severity, message).

    measure(native)             -> {statistic: value}
    calibrate([native, ...])    -> JSON-able quantiles of every statistic over a normal library
    run_checks(native, calib)   -> findings past their limits, most severe first
    check_score(findings)       -> one number per take for ranking (max severity)

A silent or near-silent take gets one `silence` finding and nothing else (see silence.py).

Products in the checks are np.einsum, not @ or np.dot: those call OpenBLAS, which wakes its worker
threads even for these small products and doubled the checks' CPU time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..audio import NativeAudio
from ..context import TakeContext
from ..results import Finding, Standing
from . import clicks, clipping, dc, dropouts, level, noise, polarity, silence, truncation
from .rules import Rule
from .standing import standing
from .take import Take, Where

FAMILIES = (clipping, clicks, dropouts, dc, polarity, truncation, noise, level)
RULES: tuple[Rule, ...] = tuple(r for family in FAMILIES for r in family.RULES)
KINDS: tuple[str, ...] = ("silence", *dict.fromkeys(r.kind for r in RULES))
CALIBRATION_VERSION = 1
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
DEFAULTS_NOTICE = (
    "technical checks use built-in limits (no calibrated model given); "
    "fit a model on your own loops so clipping, hiss and the rest are judged against what your library sounds like"
)


def _measure_take(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    stats: dict[str, float] = {}
    where: dict[str, Where] = {}
    for family in FAMILIES:
        s, w = family.measure(take)
        stats.update(s)
        where.update(w)
    return stats, where


def measure(native: NativeAudio, tempo_bpm: float | None = None) -> dict[str, float]:
    """Every check's raw statistic for one take (what calibration collects)."""
    return _measure_take(Take(native, tempo_bpm))[0]


def calibrate(natives: Iterable[NativeAudio]) -> dict[str, Any]:
    """Quantiles of every statistic over a library of normal takes; store it in the model bundle."""
    return summarize([row for row in (measure_sounding(n) for n in natives) if row is not None])


def measure_sounding(native: NativeAudio) -> dict[str, float] | None:
    """`measure` of a take that is not silent (None for a silent one, which calibration leaves out)."""
    take = Take(native)
    return None if silence.finding(take) is not None else _measure_take(take)[0]


def summarize(rows: list[dict[str, float]]) -> dict[str, Any]:
    """The calibration of a library from its takes' measurements (`measure_sounding`)."""
    if not rows:
        return {"version": CALIBRATION_VERSION, "n": 0, "measurements": {}}
    out: dict[str, dict[str, float]] = {}
    for stat in rows[0]:
        v = np.array([r[stat] for r in rows], dtype=np.float64)
        out[stat] = {f"q{round(q * 100):02d}": float(np.quantile(v, q)) for q in QUANTILES}
    return {"version": CALIBRATION_VERSION, "n": len(rows), "measurements": out}


def limits(calibration: dict | None = None) -> list[tuple[Rule, float]]:
    """Every rule with the limit it applies: the default, or relaxed by a calibrated library."""
    return [(r, r.limit(calibration)) for r in RULES]


def evaluate(
    native: NativeAudio, calibration: dict | None = None, tempo_bpm: float | None = None
) -> tuple[list[Finding], dict[str, float]]:
    """Findings plus, per check kind, a continuous score (> 0 past the limit, in units of the rule's scale).

    tempo_bpm: the loop's tempo when known (else read from a name like "bass_124bpm.wav"); a loop
    that is not a whole number of beats long is then reported as truncated.
    """
    take = Take(native, tempo_bpm)
    quiet = silence.finding(take)
    if quiet is not None:
        return [quiet], {k: 1.0 if k == "silence" else -10.0 for k in KINDS}
    stats, where = _measure_take(take)
    findings: list[Finding] = []
    margins = {k: -np.inf for k in KINDS}
    margins["silence"] = -10.0
    for rule, limit in limits(calibration):
        value = stats[rule.stat]
        margins[rule.kind] = max(margins[rule.kind], rule.excess(value, limit))
        f = rule.finding(value, limit, where[rule.stat])
        if f is not None:
            findings.append(f)
    return _one_per_kind(findings), {k: float(max(v, -10.0)) for k, v in margins.items()}


def _one_per_kind(findings: list[Finding]) -> list[Finding]:
    """The worst finding of each kind, with what the others of that kind add to its message; worst first."""
    by_kind: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: -f.severity):
        by_kind.setdefault(f.kind, []).append(f)
    merged = [
        replace(group[0], message="; ".join(f.message for f in group)) if len(group) > 1 else group[0]
        for group in by_kind.values()
    ]
    return sorted(merged, key=lambda f: -f.severity)


def run_checks(
    native: NativeAudio,
    calibration: dict | None = None,
    tempo_bpm: float | None = None,
    *,
    context: TakeContext | None = None,
) -> list[Finding]:
    """Only what is wrong, most severe first; without calibration the built-in limits apply (see DEFAULTS_NOTICE).

    `context` is what the caller knows about the take (tempo, key, meter, siblings); `native` is already only
    its region. A tempo given directly wins over the context's.
    """
    return check_take(native, calibration, tempo_bpm, context=context).findings


@dataclass
class CheckReport:
    """A take's findings (technical and musical, worst first) and the musical context they were judged in."""

    findings: list[Finding]
    music: dict[str, Any] | None = None  # MusicContext.as_dict(): tempo, key, meter and where each came from
    standing: Standing | None = None  # the take among its sibling takes, when siblings were compared


def check_take(
    native: NativeAudio,
    calibration: dict | None = None,
    tempo_bpm: float | None = None,
    *,
    context: TakeContext | None = None,
    estimate: bool = False,
) -> CheckReport:
    """run_checks plus the context used. The musical checks (timing, wrong notes, buzz; bridge/music) join in
    when a tempo, key or sibling takes are known (given, or in the file's name), or always with `estimate`;
    they read the bundle's calibration["music"] (export/music_calibration.py)."""
    if tempo_bpm is None and context is not None:
        tempo_bpm = context.bpm
    findings, _ = evaluate(native, calibration, tempo_bpm)
    if any(f.kind == "silence" for f in findings):
        return CheckReport(findings)
    from .. import music

    if tempo_bpm is not None and (context is None or context.bpm is None):
        context = replace(context or TakeContext(source="cli"), bpm=tempo_bpm)
    report = music.judge(native, context, (calibration or {}).get("music"), estimate)
    if report is None:
        return CheckReport(findings)
    return CheckReport(_one_per_kind(findings + report.findings), report.context.as_dict(), standing(report))


def check_score(findings: list[Finding]) -> float:
    """One number per take for ranking and AUROC: the worst finding's severity (0 when nothing was found)."""
    return max((f.severity for f in findings), default=0.0)


__all__ = [
    "DEFAULTS_NOTICE",
    "KINDS",
    "CheckReport",
    "calibrate",
    "check_score",
    "check_take",
    "evaluate",
    "limits",
    "measure",
    "measure_sounding",
    "run_checks",
    "summarize",
]
