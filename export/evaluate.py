"""Labelled evaluation: how well each head, the technical checks and the combined decision rank defects.

AUROC over all thresholds, and partial AUC up to FPR 0.1 as scikit-learn computes it
(`roc_auc_score(max_fpr=0.1)`, McClish-standardised so chance is 0.5), per defect kind:
each kind is scored against all normal files, so a head that only hears clipping shows it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from loopbridge import limits
from loopbridge.errors import LoopbridgeError

if TYPE_CHECKING:
    from loopbridge.bundle import Bundle
    from loopbridge.embedding import EmbedFailure

NORMAL = "normal"
ANOMALOUS = "anomalous"  # a label of 1 that names no defect
ALL = "all"
MAX_FPR = 0.1
_NORMAL_NAMES = {"0", NORMAL, "clean"}


@dataclass(frozen=True)
class Labels:
    """A labelled set: resolved file paths and, per file, `normal` or the defect kind."""

    files: list[str]
    kinds: list[str]

    @property
    def y(self) -> np.ndarray:
        return np.array([k != NORMAL for k in self.kinds], dtype=np.int64)

    @property
    def defect_kinds(self) -> list[str]:
        return sorted({k for k in self.kinds if k != NORMAL})


def read_labels(path: str | Path) -> Labels:
    """Read a `file,label` CSV; relative file paths are relative to the CSV's folder.

    A label is 0 / `normal` / `clean`, 1 (anomalous, kind unknown), or a defect name.
    """
    p = Path(path)
    if not p.is_file():
        raise LoopbridgeError(f"labels file not found: {p}", "labels")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        if "file" not in columns or "label" not in columns:
            raise LoopbridgeError(
                f"{p}: needs a header with columns file,label (found: {', '.join(columns) or 'nothing'})",
                "labels",
            )
        rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    files, kinds, missing, seen = [], [], [], set()
    for line, row in enumerate(rows, start=2):
        name, label = row["file"], row["label"].lower()
        if not name or not label:
            raise LoopbridgeError(f"{p}, line {line}: empty file or label", "labels")
        f = Path(name).expanduser()
        f = f if f.is_absolute() else p.parent / f
        if str(f) in seen:
            raise LoopbridgeError(f"{p}, line {line}: {name} is listed twice", "labels")
        seen.add(str(f))
        if not f.is_file():
            missing.append(name)
        files.append(str(f))
        kinds.append(NORMAL if label in _NORMAL_NAMES else ANOMALOUS if label == "1" else label)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise LoopbridgeError(f"{p}: {len(missing)} labelled file(s) not found: {shown}", "labels")
    labels = Labels(files, kinds)
    if not files or labels.y.all() or not labels.y.any():
        raise LoopbridgeError(
            f"{p}: needs at least one normal (0) and one anomalous file to measure anything", "labels"
        )
    return labels


def auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; higher score = more anomalous."""
    return float(roc_auc_score(y, scores))


def pauc(y: np.ndarray, scores: np.ndarray, max_fpr: float = MAX_FPR) -> float:
    """Standardised partial AUC up to `max_fpr` (0.5 = chance, 1 = perfect)."""
    return float(roc_auc_score(y, scores, max_fpr=max_fpr))


@dataclass(frozen=True)
class Metric:
    """One source (a head, `checks` or `combined`) on one defect kind against all normal files."""

    source: str
    kind: str
    n_normal: int
    n_defect: int
    auroc: float
    pauc: float
    detected: float | None  # fraction of this kind flagged by the source's own decision
    false_flags: float | None  # fraction of normal files it flagged

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_sources(
    labels: Labels,
    scores: dict[str, np.ndarray],
    flags: dict[str, np.ndarray] | None = None,
) -> list[Metric]:
    """Metrics for every source and every defect kind (plus `all`), in the order of `scores`.

    `scores[source]` holds one score per labelled file (NaN = could not be scored; left out).
    """
    kinds = np.array(labels.kinds)
    out = []
    for source, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        f = None if flags is None or source not in flags else np.asarray(flags[source], dtype=bool)
        ok = np.isfinite(s)
        normal = ok & (kinds == NORMAL)
        for kind in [*labels.defect_kinds, ALL]:
            defect = ok & ((kinds != NORMAL) if kind == ALL else (kinds == kind))
            if not normal.any() or not defect.any():
                continue
            mask = normal | defect
            y = defect[mask].astype(np.int64)
            out.append(
                Metric(
                    source=source,
                    kind=kind,
                    n_normal=int(normal.sum()),
                    n_defect=int(defect.sum()),
                    auroc=auroc(y, s[mask]),
                    pauc=pauc(y, s[mask]),
                    detected=None if f is None else float(f[defect].mean()),
                    false_flags=None if f is None else float(f[normal].mean()),
                )
            )
    return out


def format_table(metrics: list[Metric]) -> str:
    """AUROC and pAUC@0.1 as two tables (rows: defect kinds, columns: sources) plus flag rates."""
    sources = list(dict.fromkeys(m.source for m in metrics))
    kinds = list(dict.fromkeys(m.kind for m in metrics))
    by = {(m.source, m.kind): m for m in metrics}
    n_defect = {k: next(m.n_defect for m in metrics if m.kind == k) for k in kinds}
    n_normal = next((m.n_normal for m in metrics), 0)
    row_names = {k: f"{k} ({n_defect[k]})" for k in kinds}
    width = max(10, *(len(s) + 2 for s in sources))
    kw = max(14, *(len(r) + 2 for r in row_names.values()))

    def table(title: str, value) -> list[str]:
        lines = [f"{title:<{kw}}" + "".join(f"{s:>{width}}" for s in sources)]
        for k in kinds:
            cells = [value(by[s, k]) if (s, k) in by else None for s in sources]
            lines.append(f"{row_names[k]:<{kw}}" + "".join(f"{'—' if c is None else c:>{width}}" for c in cells))
        return lines

    lines = [*table("AUROC", lambda m: f"{m.auroc:.3f}"), ""]
    lines += table(f"pAUC@{MAX_FPR:g}", lambda m: f"{m.pauc:.3f}")
    if any(m.detected is not None for m in metrics):
        lines += ["", *table("flagged", lambda m: None if m.detected is None else f"{m.detected:.0%}")]
        normal = [by[s, ALL].false_flags if (s, ALL) in by else None for s in sources]
        lines.append(
            f"{f'normal ({n_normal})':<{kw}}" + "".join(f"{'—' if v is None else f'{v:.0%}':>{width}}" for v in normal)
        )
    return "\n".join(lines)


CHECKS = "checks"
COMBINED = "combined"


@dataclass
class LabelledScores:
    """Per source, one score and one flag per labelled file (NaN / False where a file could not be read)."""

    scores: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    skipped: list[EmbedFailure]
    combined_head: str


def head_margin(scores: np.ndarray, threshold: float, training_scores: np.ndarray) -> np.ndarray:
    """How far past its threshold a head's score is, in units of the normal spread (median → threshold); > 0 = flagged."""
    spread = threshold - float(np.median(training_scores))
    return (scores - threshold) / (spread if spread > 0 else 1.0)


def score_labelled(
    bundle: Bundle,
    labels: Labels,
    head: str | None = None,
    max_seconds: float = limits.MAX_SECONDS,
    progress: bool = True,
    results: Path | None = None,
) -> LabelledScores:
    """Every head, the technical checks and the combined decision on every labelled file, through the runtime.

    Each file is decoded once and scored by the runtime's `Scorer` (the same heads, checks, calibration and
    decision a take gets from `score` or the device), read back from its `TakeResult`. The checks' score is
    `check_score` of the reasons (the worst severity, 0 when none). The combined flag is `TakeResult.decision`
    with `head` deciding; its score is `head`'s margin past its threshold, or, where a check flags, the larger of
    that and the check's severity: > 0 exactly when the runtime flags the take. With `results` (a Parquet
    from `score --engine ray` with this model) the TakeResults are read from it instead of scored again.
    """
    from loopbridge import checks
    from loopbridge.pipeline import Scorer

    head = head or bundle.primary
    if head not in bundle.heads:
        raise LoopbridgeError(
            f"model '{bundle.name}' has no head '{head}' (it has: {', '.join(bundle.heads)})", "usage"
        )
    scorer = Scorer(bundle)
    where = {os.path.realpath(f): i for i, f in enumerate(labels.files)}
    n = len(labels.files)
    scores = {h: np.full(n, np.nan) for h in [*bundle.heads, CHECKS, COMBINED]}
    flags = {h: np.zeros(n, dtype=bool) for h in scores}
    skipped: list[EmbedFailure] = []
    step = scorer.batch_size
    with tqdm(total=n, desc="evaluating", unit="file", disable=not progress, leave=False) as bar:
        batches = (
            _from_results(results, bundle, where)
            if results is not None  # `score --engine ray` results: read, not scored again
            else (scorer.score_files(labels.files[start : start + step], max_seconds) for start in range(0, n, step))
        )
        for scored, failed in batches:
            skipped += failed
            for r in scored:
                i = where[os.path.realpath(r.path)]
                for h, value in r.head_scores.items():
                    scores[h][i], flags[h][i] = value, value > r.head_thresholds[h]
                scores[CHECKS][i], flags[CHECKS][i] = checks.check_score(r.reasons), bool(r.reasons)
                flags[COMBINED][i] = r.decision(head)
            bar.update(len(scored) + len(failed))
    if not np.isfinite(scores[CHECKS]).any():
        raise LoopbridgeError(f"none of the {n} labelled files could be read", "no_files")
    margin = head_margin(scores[head], bundle.thresholds[head], bundle.training_scores[head])
    scores[COMBINED] = np.where(flags[CHECKS], np.maximum(margin, scores[CHECKS]), margin)  # NaN stays NaN
    return LabelledScores(scores, flags, skipped, head)


def _from_results(path: Path, bundle: Bundle, where: dict[str, int]) -> list[tuple[list, list]]:
    """The labelled files' rows of a results Parquet; a labelled file it lacks is skipped, named."""
    from loopbridge.embedding import EmbedFailure
    from loopbridge.scale.output import read_results

    found, failed = read_results(path, bundle.name, bundle.thresholds)
    found = [r for r in found if os.path.realpath(r.path) in where]
    failed = [f for f in failed if os.path.realpath(f.path) in where]
    have = {os.path.realpath(x.path) for x in [*found, *failed]}
    absent = [EmbedFailure(f, LoopbridgeError(f"{f}: not in {path}", "missing")) for f in where if f not in have]
    return [(found, failed + absent)]
