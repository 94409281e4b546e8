"""Model bundles: a folder with `manifest.json` and one ONNX graph per head (embedding batch → scores).

The runtime side of training: it reads, validates and serves bundles, and writes them atomically
(temporary folder in the same parent, then rename) so a crash never leaves half a model behind.
Thresholds are quantiles of the stored, sorted training-library scores (held out where the head allows),
so sensitivity changes without retraining.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, paths
from .errors import ModelError

MANIFEST = "manifest.json"
FORMAT = 1
DEFAULT_QUANTILE = 0.95
DEFAULT_FALSE_FLAGS = 0.05  # fit's budget: the share of the library's held-out loops the whole decision flags
REPORTED_QUANTILES = (0.5, 0.9, 0.95, 0.99)


def threshold_at(sorted_scores: np.ndarray, quantile: float) -> float:
    """The score above which a take counts as off: the `quantile` of the training scores."""
    if not 0.0 < quantile < 1.0:
        raise ModelError(f"sensitivity quantile must be between 0 and 1 (exclusive), got {quantile}")
    return float(np.quantile(np.asarray(sorted_scores, dtype=np.float64), quantile))


def score_quantiles(sorted_scores: np.ndarray) -> dict[str, float]:
    return {f"{q:g}": threshold_at(sorted_scores, q) for q in REPORTED_QUANTILES}


@dataclass
class HeadSpec:
    """One head as the manifest records it; score arrays are sorted ascending.

    `training_scores` are what the threshold is a quantile of: the training library's scores, computed on
    loops the head was not fitted on where `threshold_basis` says so ("held-out", "leave-one-out",
    "out-of-fold"), else in-sample. `in_sample_scores` and `validation_scores` (held out; None if the head
    has none) are for the report's histograms.
    """

    name: str
    kind: str
    threshold: float
    quantile: float
    training_scores: np.ndarray
    threshold_basis: str = "in-sample"
    training_size: int = 0
    in_sample_scores: np.ndarray | None = None
    validation_scores: np.ndarray | None = None
    file: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file or f"{self.name}.onnx",
            "kind": self.kind,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "threshold_basis": self.threshold_basis,
            "training_size": self.training_size or int(self.training_scores.size),
            "threshold_scores": int(self.training_scores.size),
            "score_quantiles": score_quantiles(self.training_scores),
            "scores_file": f"{self.name}.scores.npy",
            "in_sample_scores_file": None if self.in_sample_scores is None else f"{self.name}.in_sample.npy",
            "validation_scores_file": None if self.validation_scores is None else f"{self.name}.validation.npy",
            "metrics": self.metrics,
        }

    def score_files(self, spec: dict[str, Any]) -> dict[str, np.ndarray]:
        """File name → sorted scores, for every array this head stores."""
        arrays = {
            "scores_file": self.training_scores,
            "in_sample_scores_file": self.in_sample_scores,
            "validation_scores_file": self.validation_scores,
        }
        return {spec[key]: np.sort(a) for key, a in arrays.items() if a is not None}


@dataclass
class EncoderRef:
    """Which encoder produced the training embeddings; `preset` is None for a plain .npy matrix."""

    preset: str | None
    sha256: str | None
    id: str | None
    dim: int


class Bundle:
    """A loaded model bundle. Head sessions open on first use."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        training_scores: dict[str, np.ndarray],
        in_sample_scores: dict[str, np.ndarray | None] | None = None,
        validation_scores: dict[str, np.ndarray | None] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.name: str = manifest["name"]
        enc = manifest["encoder"]
        self.encoder = EncoderRef(enc.get("preset"), enc.get("sha256"), enc.get("id"), int(manifest["embedding_dim"]))
        self.dim = self.encoder.dim
        self.primary: str = manifest["primary_head"]
        self.checks: dict[str, Any] | None = manifest.get("checks")
        self.training_scores = training_scores  # the thresholds' basis (see HeadSpec)
        self.in_sample_scores = in_sample_scores or {}
        self.validation_scores = validation_scores or {}
        self.threshold_basis = {h: spec.get("threshold_basis", "in-sample") for h, spec in manifest["heads"].items()}
        self.thresholds = {h: float(spec["threshold"]) for h, spec in manifest["heads"].items()}
        self.quantiles = {h: float(spec["quantile"]) for h, spec in manifest["heads"].items()}
        self._sessions: dict[str, Any] = {}

    @property
    def heads(self) -> list[str]:
        return list(self.manifest["heads"])

    @classmethod
    def load(cls, name_or_path: str | Path) -> Bundle:
        """A folder path, or the name of a bundle in the models folder."""
        path = resolve(name_or_path)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            if manifest.get("format") != FORMAT:
                raise ModelError(
                    f"model '{path}' has bundle format {manifest.get('format')}; this loopbridge reads {FORMAT}"
                )
            heads = manifest["heads"]
            if not heads or manifest["primary_head"] not in heads:
                raise ModelError(f"model '{path}' names no usable primary head")
            scores = {h: np.load(path / spec["scores_file"]) for h, spec in heads.items()}
            extra = {
                key: {h: np.load(path / spec[key]) if spec.get(key) else None for h, spec in heads.items()}
                for key in ("in_sample_scores_file", "validation_scores_file")
            }
            for h, spec in heads.items():
                if not (path / spec["file"]).is_file():
                    raise ModelError(f"model '{path}' is missing {spec['file']} (head {h}); fit it again")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"model '{path}' is damaged or incomplete ({exc}); fit it again") from exc
        return cls(path, manifest, scores, extra["in_sample_scores_file"], extra["validation_scores_file"])

    def session(self, head: str) -> Any:
        if head not in self._sessions:
            from .encoders import make_session  # onnxruntime: deferred so listing bundles stays light

            self._sessions[head] = make_session(self.path / self.manifest["heads"][head]["file"])
        return self._sessions[head]

    def scores(self, X: np.ndarray, heads: list[str] | None = None) -> dict[str, np.ndarray]:
        """Anomaly score of each embedding row under each head (higher = more unusual)."""
        X = check_embeddings(X, self.dim, what=f"embeddings for model '{self.name}'")
        out = {}
        for head in heads or self.heads:
            sess = self.session(head)
            out[head] = np.asarray(sess.run(["score"], {"embedding": X})[0], dtype=np.float64).reshape(-1)
        return out

    def set_quantile(self, quantile: float, head: str | None = None) -> float:
        """Change sensitivity (one head, or all when None); returns the new threshold of `head` or the primary."""
        for h in [head] if head else self.heads:
            if h not in self.thresholds:
                raise ModelError(f"model '{self.name}' has no head '{h}' (it has: {', '.join(self.heads)})")
            self.thresholds[h] = threshold_at(self.training_scores[h], quantile)
            self.quantiles[h] = quantile
        return self.thresholds[head or self.primary]


def check_embeddings(X: np.ndarray, dim: int | None = None, what: str = "embeddings") -> np.ndarray:
    """A (N, D) finite float32 matrix, or a ModelError that says what is wrong with it."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ModelError(f"{what}: expected a non-empty (rows, dimensions) matrix, got shape {X.shape}")
    if dim is not None and X.shape[1] != dim:
        raise ModelError(f"{what}: have dimension {X.shape[1]}, the model expects {dim} (a different encoder?)")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:5])
        raise ModelError(f"{what}: {int(bad.sum())} row(s) contain NaN or infinite values (rows {rows})")
    return np.ascontiguousarray(X)


def resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path).expanduser()
    if (p / MANIFEST).is_file():
        return p
    named = paths.models_dir() / str(name_or_path)
    if (named / MANIFEST).is_file():
        return named
    known = ", ".join(name for name, _ in list_bundles()) or "none yet; run `loopbridge fit`"
    raise ModelError(f"no model '{name_or_path}' (known models: {known})")


def list_bundles(folder: Path | None = None) -> list[tuple[str, Path]]:
    """(name, folder) of every bundle in the models folder, by name."""
    root = folder or paths.models_dir()
    if not root.is_dir():
        return []
    return sorted((p.name, p) for p in root.iterdir() if (p / MANIFEST).is_file())


def make_manifest(
    name: str,
    encoder: EncoderRef,
    heads: list[HeadSpec],
    primary: str,
    training: dict[str, Any],
    checks: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loopbridge_version": __version__,
        "encoder": {"preset": encoder.preset, "sha256": encoder.sha256, "id": encoder.id},
        "embedding_dim": encoder.dim,
        "primary_head": primary,
        "training": training,
        "heads": {h.name: h.to_json() for h in heads},
        "checks": checks,
        "decision": decision,
    }


def write_bundle(
    dest: Path, manifest: dict[str, Any], graphs: dict[str, bytes], heads: list[HeadSpec], force: bool = False
) -> Path:
    """Write the bundle into a temporary sibling folder, then rename it into place.

    An existing bundle is replaced only with `force`, and only after the new one is complete.
    """
    dest = Path(dest)
    if dest.exists() and not force:
        raise ModelError(f"model '{dest}' already exists; use --force to replace it, or pick another --name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        for h in heads:
            spec = manifest["heads"][h.name]
            (tmp / spec["file"]).write_bytes(graphs[h.name])
            for file, scores in h.score_files(spec).items():
                np.save(tmp / file, scores)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
