"""What the browse page shows: the scored takes and the model's library, each with its embedding and map position.

Takes are scored by `pipeline.Scorer` exactly as `loopbridge score` scores them; the Scorer hands back the
embeddings it computed (its `embeddings` list), so the map embeds nothing twice. The library is the model's
training set: the saved embeddings it was fitted on, or its folders embedded through the persistent cache
(a hit for every loop `fit` embedded on this machine).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio
from ..bundle import Bundle
from ..cache import EmbeddingCache
from ..embedding import Embeddings, EmbedFailure, embed_files, load_embeddings
from ..errors import LoopbridgeError
from ..pipeline import Scorer
from ..results import Finding, TakeResult
from .projection import Projection, nearest

log = logging.getLogger("loopbridge")


@dataclass
class Catalog:
    """Takes and library loops with embeddings and map coordinates; uploads are appended under the lock."""

    scorer: TakeScorer
    takes: list[TakeResult]
    take_vectors: np.ndarray
    library: Embeddings
    projection: Projection
    take_xy: np.ndarray = field(init=False)
    library_xy: np.ndarray = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.take_xy = self._place(self.take_vectors)
        self.library_xy = self._place(self.library.vectors)

    def _place(self, X: np.ndarray) -> np.ndarray:
        return self.projection.transform(X) if len(X) else np.zeros((0, 2))

    @property
    def bundle(self) -> Bundle:
        return self.scorer.scorer.bundle

    def add(self, results: list[TakeResult], vectors: np.ndarray) -> list[int]:
        """Append newly scored takes; returns their ids."""
        with self.lock:
            start = len(self.takes)
            self.takes += results
            self.take_vectors = np.vstack([self.take_vectors, vectors]) if len(self.take_vectors) else vectors
            self.take_xy = np.vstack([self.take_xy, self._place(vectors)])
            return list(range(start, len(self.takes)))

    def set_sensitivity(self, quantile: float) -> dict[str, float]:
        """Every head's threshold at `quantile` of its stored training scores, as `score --quantile` sets them
        (no rescoring: the page recomputes flags from the scores it has; later uploads use these thresholds)."""
        with self.lock:
            self.bundle.set_quantile(quantile)
            return dict(self.bundle.thresholds)

    def take_json(self, i: int) -> dict[str, Any]:
        r = self.takes[i]
        return {
            "id": i,
            "path": r.path,
            "name": Path(r.path).name,
            "folder": str(Path(r.path).parent),
            "duration_s": None if math.isnan(r.duration_s) else r.duration_s,
            "head_scores": r.head_scores,
            "score": r.score,
            "silent": r.silent,
            "reasons": [f.__dict__ for f in r.reasons],
            "x": float(self.take_xy[i, 0]),
            "y": float(self.take_xy[i, 1]),
        }

    def library_json(self, j: int) -> dict[str, Any]:
        d = float(self.library.durations[j])
        return {
            "id": j,
            "path": self.library.files[j],
            "name": Path(self.library.files[j]).name,
            "duration_s": None if math.isnan(d) else d,
            "x": float(self.library_xy[j, 0]),
            "y": float(self.library_xy[j, 1]),
        }

    def neighbours(self, i: int, k: int = 5) -> list[dict[str, Any]]:
        return [
            {**self.library_json(j), "distance": dist}
            for j, dist in nearest(self.take_vectors[i], self.library.vectors, k)
        ]


class TakeScorer:
    """Scores files like `loopbridge score` (same Scorer, same bundle) and keeps each take's embedding for the map."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self._lock = threading.Lock()

    def score(
        self, inputs: Sequence[str | Path], max_seconds: float = audio.DEFAULT_MAX_SECONDS
    ) -> tuple[list[TakeResult], np.ndarray, list[EmbedFailure]]:
        """Results, their embeddings (rows match) and the files that could not be read."""
        rows: list[np.ndarray] = []
        with self._lock:
            results, failures = self.scorer.score_files(list(inputs), max_seconds, embeddings=rows)
        dim = self.scorer.bundle.dim
        return results, np.array(rows, dtype=np.float32).reshape(len(results), dim), failures


def load_results(scorer: Scorer, path: Path) -> tuple[list[TakeResult], np.ndarray]:
    """Rows of a `loopbridge score --engine ray --out` Parquet file; the embeddings come from the cache (or are computed)."""
    from ..extras import require

    require("ray", "loopbridge browse --results", ("pyarrow",))
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise LoopbridgeError(f"{path}: not a readable results Parquet file ({exc})", "bad_results") from exc
    bundle = scorer.bundle
    rows = [r for r in rows if not r.get("error_code")]
    missing = [h for h in bundle.heads if rows and f"score_{h}" not in rows[0]]
    if missing:
        raise LoopbridgeError(
            f"{path} has no scores for head(s) {', '.join(missing)} of model '{bundle.name}'", "usage"
        )
    emb, failures = embed_files(
        [Path(r["path"]) for r in rows], scorer.encoder, progress=False, cache=EmbeddingCache(scorer.encoder.id)
    )
    for f in failures:
        log.warning("not on the map (file unreadable): %s", f.error.message)
    by_path = dict(zip(emb.files, emb.vectors, strict=True))
    thresholds = dict(bundle.thresholds)
    takes = [
        TakeResult(
            path=r["path"],
            model=bundle.name,
            duration_s=math.nan if r["duration_s"] is None else float(r["duration_s"]),
            head=bundle.primary,
            score=float(r[f"score_{bundle.primary}"]),
            threshold=thresholds[bundle.primary],
            head_flag=float(r[f"score_{bundle.primary}"]) > thresholds[bundle.primary],
            head_scores={h: float(r[f"score_{h}"]) for h in bundle.heads},
            head_thresholds=thresholds,
            reasons=[Finding(**f) for f in r["reasons"] or []],
            silent=bool(r["silent"]),
        )
        for r in rows
        if r["path"] in by_path
    ]
    return takes, np.array([by_path[t.path] for t in takes], dtype=np.float32).reshape(len(takes), bundle.dim)


def training_library(scorer: Scorer) -> tuple[Embeddings, list[Path]]:
    """The loops the model was fitted on (embeddings, and the folders they came from, for serving audio)."""
    source = scorer.bundle.manifest.training.get("source")
    if isinstance(source, str) and Path(source).suffix == ".npz" and Path(source).is_file():
        emb = load_embeddings(source)
        return emb, sorted({Path(f).parent for f in emb.files})
    folders = [Path(s) for s in (source if isinstance(source, list) else []) if Path(s).exists()]
    files = audio.expand_paths([str(f) for f in folders]) if folders else []
    if not files:
        log.warning("the model's training loops were not found; the map shows the scored takes only")
        return Embeddings(np.zeros((0, scorer.bundle.dim), np.float32), [], np.zeros(0)), []
    emb, failures = embed_files(files, scorer.encoder, progress=False, cache=EmbeddingCache(scorer.encoder.id))
    if failures:
        log.warning("%d library file(s) could not be read and are not on the map", len(failures))
    return emb, folders


def build(
    scorer: TakeScorer, takes: list[TakeResult], vectors: np.ndarray, library: Embeddings, method: str = "pca"
) -> Catalog:
    """Fit the map on the library (on the takes when there is no library) and place everything on it."""
    basis = library.vectors if len(library) >= 2 else vectors
    if len(basis) == 0:
        raise LoopbridgeError("nothing to show: no takes were scored and the model's library was not found", "no_files")
    return Catalog(scorer, takes, vectors, library, Projection(basis, method))
