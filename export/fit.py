"""A library of loops → embeddings (through the persistent cache) → trained heads → a model bundle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from loopbridge import audio, checks, heads_registry
from loopbridge.bundle import (
    DEFAULT_FALSE_FLAGS,
    DEFAULT_QUANTILE,
    EncoderRef,
    check_embeddings,
    make_manifest,
    write_bundle,
)
from loopbridge.cache import EmbeddingCache
from loopbridge.embedding import Embeddings, EmbedFailure, embed_files
from loopbridge.encoders import Encoder
from loopbridge.errors import LoopbridgeError, ModelError
from loopbridge.heads_registry import HEADS

from . import budget, music_calibration
from .detector import HELD_OUT, Detector
from .head_pool import HeadPool

if TYPE_CHECKING:
    from .heads import SVDDConfig

log = logging.getLogger(__name__)

# The head a take's flag comes from by default: kNN, the field's baseline to beat on frozen embeddings, ranked
# best and kept closest to the 5 % false-flag rate in our measurements; `--primary aewres` is the paper's choice.
DEFAULT_PRIMARY = "knn"
MIN_TRAINING = 3  # below this no head can split off validation data or find neighbours
FEW_TRAINING = 20


@dataclass
class FitOptions:
    """Every head's settings; defaults are the paper's (SVDD) or the registry's (bridge/heads_registry.py)."""

    heads: tuple[str, ...] = HEADS
    quantile: float = DEFAULT_QUANTILE
    threshold_basis: str = HELD_OUT  # IN_SAMPLE: thresholds from in-sample scores, as the paper
    seed: int = 0
    svdd: SVDDConfig | None = None  # Deep SVDD's training settings; None = the paper's (needs no torch to say)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # head → constructor keywords over the registry's
    progress: bool = True
    jobs: int = 1  # > 1: the torch heads train side by side in that many worker processes (export/head_pool.py)


def make_detector(name: str, opts: FitOptions, progress: Callable[..., None] | None = None) -> Detector:
    """The registry's class for `name` with its default parameters, overridden by `opts.params[name]`."""
    info = heads_registry.get(name)
    cls: type[Detector] = info.load()
    return cls.from_options(opts, {**info.defaults(), **opts.params.get(name, {})}, progress)


class _EpochBars:
    """One tqdm bar per training phase of a Deep SVDD head, on line `position` (one per head training at once)."""

    def __init__(self, head: str, enabled: bool, position: int = 0) -> None:
        self.head, self.enabled, self.position = head, enabled, position
        self.bar: tqdm | None = None
        self.phase: str | None = None

    def __call__(self, phase: str, epoch: int, epochs: int, val_loss: float) -> None:
        if not self.enabled:
            return
        if phase != self.phase or epoch == 1:
            self.close()
            self.phase = phase
            self.bar = tqdm(
                total=epochs, desc=f"{self.head} {phase}", unit="epoch", leave=False, position=self.position
            )
        assert self.bar is not None
        self.bar.update(1)
        self.bar.set_postfix(val_loss=f"{val_loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit_heads(X: np.ndarray, opts: FitOptions) -> dict[str, Detector]:
    """Train every requested head on the same normal embeddings."""
    with HeadPool(check_training(X), opts, train_head) as pool:
        return pool.results()


def train_head(name: str, X: np.ndarray, opts: FitOptions, position: int = 0) -> Detector:
    """One head, trained here or in a HeadPool worker (its progress bars on line `position`)."""
    bars = _EpochBars(name, opts.progress, position)
    det = make_detector(name, opts, bars)
    try:
        det.fit(X)
    except ValueError as exc:
        raise ModelError(f"head '{name}' could not be trained: {exc}") from exc
    finally:
        bars.close()
    return det


def check_training(X: np.ndarray) -> np.ndarray:
    X = check_embeddings(X, what="training embeddings")
    if len(X) < MIN_TRAINING:
        raise ModelError(f"fit needs at least {MIN_TRAINING} loops to learn what normal sounds like; got {len(X)}")
    if len(X) < FEW_TRAINING:
        log.warning("warning: only %d loops; the model will be rough (a few dozen or more is better)", len(X))
    return X


@dataclass
class FittedLibrary:
    """Everything `fit` learnt from a library, ready for `save_bundle`."""

    detectors: dict[str, Detector]
    primary: str
    calibration: dict[str, Any] | None  # the checks' calibration, with the limits the budget chose
    decision: dict[str, Any]  # the manifest's "decision": the budget and its split, or the per-head rule


def fit_library(
    vectors: np.ndarray,
    files: list[str],
    opts: FitOptions,
    false_flags: float | None = DEFAULT_FALSE_FLAGS,
    primary: str | None = None,
) -> FittedLibrary:
    """Heads on the embeddings, checks calibrated on the files as recorded, thresholds chosen for the decision.
    With `opts.jobs` > 1 the files are measured while the torch heads train."""
    # groove, keys, buzz; their limits take their share of the same budget (fit --quantile: the default one)
    budget_share = DEFAULT_FALSE_FLAGS if false_flags is None else false_flags
    with HeadPool(check_training(vectors), opts, train_head) as pool:
        rows = measure_checks(files, progress=opts.progress)
        music = music_calibration.with_music(None, files, opts.progress, budget_share, opts.seed)
        detectors = pool.results()
    calibration = calibrate_checks(rows)
    if calibration is None:
        log.warning("note: the loops themselves were not found, so technical checks will use built-in limits")
    primary = resolve_primary(detectors, primary)
    decision, calibration = choose_decision(detectors, primary, rows, calibration, false_flags)
    if music is not None:
        calibration = {**(calibration or {}), **music}
    return FittedLibrary(detectors, primary, calibration, decision)


def resolve_primary(detectors: dict[str, Detector], primary: str | None) -> str:
    """The head a take's flag comes from: the one asked for, else kNN when trained, else the first."""
    if primary is None:
        return DEFAULT_PRIMARY if DEFAULT_PRIMARY in detectors else next(iter(detectors))
    if primary not in detectors:
        raise LoopbridgeError(f"primary head '{primary}' is not among the trained heads ({', '.join(detectors)})")
    return primary


def save_bundle(
    dest: Path,
    name: str,
    detectors: dict[str, Detector],
    encoder: EncoderRef,
    training: dict[str, Any],
    calibration: dict[str, Any] | None = None,
    force: bool = False,
    primary: str | None = None,
    decision: dict[str, Any] | None = None,
) -> Path:
    primary = resolve_primary(detectors, primary)
    specs = [det.spec(h) for h, det in detectors.items()]
    graphs = {h: det.to_onnx().SerializeToString() for h, det in detectors.items()}
    manifest = make_manifest(name, encoder, specs, primary, training, calibration, decision)
    return write_bundle(dest, manifest, graphs, specs, force)


def embed_library(
    dirs: list[str | Path], encoder: Encoder, progress: bool = True
) -> tuple[Embeddings, list[EmbedFailure]]:
    """Every audio file under `dirs`, embedded through the cache so a refit only embeds new or changed files."""
    files = audio.expand_paths(dirs)
    if not files:
        raise LoopbridgeError(
            f"no audio files found in {', '.join(str(d) for d in dirs)} ({', '.join(audio.AUDIO_EXTENSIONS)})"
        )
    return embed_files(files, encoder, progress=progress, cache=EmbeddingCache(encoder.id))


def measure_checks(files: list[str], progress: bool = True) -> list[dict[str, float] | None]:
    """What the technical checks measure on each loop of the library (None: unreadable, gone or silent).

    Reads each file as recorded; the rows give the calibration (`checks.summarize`) and, loop by loop,
    what the false-flag budget weighs against the head's held-out scores.
    """

    def one(f: str) -> dict[str, float] | None:
        try:
            return checks.measure_sounding(audio.read_native(f))
        except (LoopbridgeError, OSError):
            return None

    return [one(f) for f in tqdm(files, desc="measuring checks", unit="file", disable=not progress, leave=False)]


def calibrate_checks(rows: list[dict[str, float] | None]) -> dict[str, Any] | None:
    """The library's check calibration, so its own clipping or hiss is judged normal (None: no loop measured)."""
    calibration = checks.summarize([r for r in rows if r is not None])
    return calibration if calibration["n"] else None


def choose_decision(
    detectors: dict[str, Detector],
    primary: str,
    check_rows: list[dict[str, float] | None] | None,
    calibration: dict[str, Any] | None,
    false_flags: float | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Thresholds for the decision (primary head OR any check): one budget, or each head at its own quantile.

    Returns the manifest's "decision" record and the calibration with the limits the budget chose.
    With `false_flags` None (`fit --quantile Q`) every head keeps its Q threshold and the checks their
    calibrated limits: the paper's per-head rule.
    """
    det = detectors[primary]
    if false_flags is None:
        return {"rule": "per-head", "quantile": det.quantile, "head": primary}, calibration
    chosen = budget.choose(primary, det.training_scores_, det.row_scores_, check_rows, calibration, false_flags)
    det.set_threshold(chosen.head_threshold, chosen.head_quantile)
    return chosen.to_json(), budget.apply_limits(calibration, chosen)


def encoder_ref(encoder: Encoder) -> EncoderRef:
    return EncoderRef(encoder.name, encoder.sha256, encoder.id, encoder.dim)


def embeddings_ref(emb: Embeddings) -> EncoderRef:
    """For `fit --embeddings`: the .npz names its encoder; a plain .npy matrix does not."""
    return EncoderRef(emb.encoder_name or None, None, emb.encoder_id or None, int(emb.vectors.shape[1]))


def decision_line(decision: dict[str, Any]) -> str:
    """What fit chose for the whole decision, in one line."""
    if decision["rule"] == "per-head":
        return f"decision: {decision['head']} at q{decision['quantile']:g} of its scores OR any check at its calibrated limit"
    split = decision["split"]
    relaxed = f"; relaxed {', '.join(decision['relaxed_limits'])}" if decision["relaxed_limits"] else ""
    return (
        f"decision: {decision['head']} OR any check flags {split['combined']:.1%} of {decision['loops']} library loops"
        f" (budget {decision['false_flags']:g}: head alone {split['head_only']:.1%}, checks {split['checks']:.1%},"
        f" {decision['pairing']}{relaxed})"
    )


def summary_line(name: str, det: Detector) -> str:
    basis = f"{det.training_scores_.size} {det.threshold_basis_} scores"
    return f"{name:<12} threshold {det.threshold_:.5g} (q{det.quantile:g} of {basis})  {det.describe()}"
