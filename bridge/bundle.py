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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, paths
from .errors import ModelError

MANIFEST = "manifest.json"
# 2: the manifest records the decision rule (fit's false-flag budget and its split); 1 (no "decision") is
# migrated on load as the per-head rule it was
FORMAT = 2
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

    def entry(self) -> HeadEntry:
        """What the manifest records of this head (the arrays go to the files it names)."""
        return HeadEntry(
            file=self.file or f"{self.name}.onnx",
            kind=self.kind,
            threshold=self.threshold,
            quantile=self.quantile,
            threshold_basis=self.threshold_basis,
            training_size=self.training_size or int(self.training_scores.size),
            threshold_scores=int(self.training_scores.size),
            score_quantiles=score_quantiles(self.training_scores),
            scores_file=f"{self.name}.scores.npy",
            in_sample_scores_file=None if self.in_sample_scores is None else f"{self.name}.in_sample.npy",
            validation_scores_file=None if self.validation_scores is None else f"{self.name}.validation.npy",
            metrics=self.metrics,
        )

    def score_files(self, entry: HeadEntry) -> dict[str, np.ndarray]:
        """File name → sorted scores, for every array this head stores."""
        arrays = (
            (entry.scores_file, self.training_scores),
            (entry.in_sample_scores_file, self.in_sample_scores),
            (entry.validation_scores_file, self.validation_scores),
        )
        return {file: np.sort(a) for file, a in arrays if file is not None and a is not None}


@dataclass(frozen=True)
class HeadEntry:
    """One head in `manifest.json`: its graph, threshold and the files holding its sorted scores."""

    file: str
    kind: str
    threshold: float
    quantile: float
    threshold_basis: str
    training_size: int
    threshold_scores: int
    score_quantiles: dict[str, float]
    scores_file: str
    in_sample_scores_file: str | None = None
    validation_scores_file: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> HeadEntry:
        return cls(
            file=str(raw["file"]),
            kind=str(raw["kind"]),
            threshold=float(raw["threshold"]),
            quantile=float(raw["quantile"]),
            threshold_basis=str(raw.get("threshold_basis", "in-sample")),
            training_size=int(raw.get("training_size", 0)),
            threshold_scores=int(raw.get("threshold_scores", 0)),
            score_quantiles={str(k): float(v) for k, v in (raw.get("score_quantiles") or {}).items()},
            scores_file=str(raw["scores_file"]),
            in_sample_scores_file=raw.get("in_sample_scores_file"),
            validation_scores_file=raw.get("validation_scores_file"),
            metrics=dict(raw.get("metrics") or {}),
        )


@dataclass
class EncoderRef:
    """Which encoder produced the training embeddings; `preset` is None for a plain .npy matrix."""

    preset: str | None
    sha256: str | None
    id: str | None
    dim: int


@dataclass(frozen=True)
class Manifest:
    """`manifest.json`, typed: what a bundle is, written by `make_manifest`/`write_bundle`, read by `Bundle.load`.

    `decision` is how a take's flag is decided: {"rule": "budget", "false_flags", "split", ...} (fit's one
    false-flag budget, export/budget.py) or {"rule": "per-head", "quantile", "head"}. `checks` is the
    checks' calibration (with the limits the budget chose under "limits"), None for built-in limits.
    """

    name: str
    created: str
    loopbridge_version: str
    encoder: EncoderRef
    primary_head: str
    training: dict[str, Any]
    heads: dict[str, HeadEntry]
    checks: dict[str, Any] | None
    decision: dict[str, Any]
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        enc = self.encoder
        return {
            "format": self.format,
            "name": self.name,
            "created": self.created,
            "loopbridge_version": self.loopbridge_version,
            "encoder": {"preset": enc.preset, "sha256": enc.sha256, "id": enc.id},
            "embedding_dim": enc.dim,
            "primary_head": self.primary_head,
            "training": self.training,
            "heads": {h: asdict(e) for h, e in self.heads.items()},
            "checks": self.checks,
            "decision": self.decision,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        """A manifest of this format or an older one (migrated); KeyError/TypeError/ValueError when damaged."""
        raw = migrate(raw)
        enc = raw["encoder"]
        return cls(
            name=str(raw["name"]),
            created=str(raw.get("created", "?")),
            loopbridge_version=str(raw.get("loopbridge_version", "?")),
            encoder=EncoderRef(enc.get("preset"), enc.get("sha256"), enc.get("id"), int(raw["embedding_dim"])),
            primary_head=str(raw["primary_head"]),
            training=dict(raw.get("training") or {}),
            heads={str(h): HeadEntry.from_json(e) for h, e in raw["heads"].items()},
            checks=raw.get("checks"),
            decision=dict(raw["decision"]),
        )


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an older manifest up to FORMAT, one step at a time; a newer one is refused."""
    version = raw.get("format")
    if not isinstance(version, int) or not 1 <= version <= FORMAT:
        raise ModelError(f"bundle format {version!r}; this loopbridge reads formats 1 to {FORMAT}")
    if version == 1:  # before fit's false-flag budget: every head flagged at its own quantile
        primary = raw["primary_head"]
        rule = {"rule": "per-head", "quantile": float(raw["heads"][primary]["quantile"]), "head": primary}
        raw = {**raw, "format": 2, "decision": rule}
    return raw


class Bundle:
    """A loaded model bundle. Head sessions open on first use."""

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        training_scores: dict[str, np.ndarray],
        in_sample_scores: dict[str, np.ndarray | None] | None = None,
        validation_scores: dict[str, np.ndarray | None] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.name = manifest.name
        self.encoder = manifest.encoder
        self.dim = self.encoder.dim
        self.primary = manifest.primary_head
        self.checks = manifest.checks
        self.decision = manifest.decision
        self.training_scores = training_scores  # the thresholds' basis (see HeadSpec)
        self.in_sample_scores = in_sample_scores or {}
        self.validation_scores = validation_scores or {}
        self.threshold_basis = {h: e.threshold_basis for h, e in manifest.heads.items()}
        self.thresholds = {h: e.threshold for h, e in manifest.heads.items()}
        self.quantiles = {h: e.quantile for h, e in manifest.heads.items()}
        self._sessions: dict[str, Any] = {}

    @property
    def heads(self) -> list[str]:
        return list(self.manifest.heads)

    @classmethod
    def load(cls, name_or_path: str | Path) -> Bundle:
        """A folder path, or the name of a bundle in the models folder."""
        path = resolve(name_or_path)
        try:
            try:
                manifest = Manifest.from_json(json.loads((path / MANIFEST).read_text()))
            except ModelError as exc:
                raise ModelError(f"model '{path}' has {exc.message}") from None
            heads = manifest.heads
            if not heads or manifest.primary_head not in heads:
                raise ModelError(f"model '{path}' names no usable primary head")
            scores = {h: np.load(path / e.scores_file) for h, e in heads.items()}
            in_sample = {
                h: np.load(path / e.in_sample_scores_file) if e.in_sample_scores_file else None
                for h, e in heads.items()
            }
            validation = {
                h: np.load(path / e.validation_scores_file) if e.validation_scores_file else None
                for h, e in heads.items()
            }
            for h, e in heads.items():
                if not (path / e.file).is_file():
                    raise ModelError(f"model '{path}' is missing {e.file} (head {h}); fit it again")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"model '{path}' is damaged or incomplete ({exc}); fit it again") from exc
        return cls(path, manifest, scores, in_sample, validation)

    def session(self, head: str) -> Any:
        if head not in self._sessions:
            from .encoders import make_session  # onnxruntime: deferred so listing bundles stays light

            self._sessions[head] = make_session(self.path / self.manifest.heads[head].file)
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
) -> Manifest:
    """decision None: the per-head rule at the primary head's quantile."""
    specs = {h.name: h.entry() for h in heads}
    if decision is None:
        decision = {"rule": "per-head", "quantile": specs[primary].quantile, "head": primary}
    return Manifest(
        name=name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        loopbridge_version=__version__,
        encoder=encoder,
        primary_head=primary,
        training=training,
        heads=specs,
        checks=checks,
        decision=decision,
    )


def write_bundle(
    dest: Path, manifest: Manifest, graphs: dict[str, bytes], heads: list[HeadSpec], force: bool = False
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
            entry = manifest.heads[h.name]
            (tmp / entry.file).write_bytes(graphs[h.name])
            for file, scores in h.score_files(entry).items():
                np.save(tmp / file, scores)
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
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
