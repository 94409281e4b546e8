"""A library of loops → embeddings (through the persistent cache) → trained heads → a model bundle."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from loopbridge import audio, checks, heads_registry
from loopbridge.audio import NativeAudio
from loopbridge.bundle import DEFAULT_QUANTILE, EncoderRef, check_embeddings, make_manifest, write_bundle
from loopbridge.cache import EmbeddingCache
from loopbridge.embedding import Embeddings, EmbedFailure, embed_files
from loopbridge.encoders import Encoder
from loopbridge.errors import LoopbridgeError, ModelError
from loopbridge.heads_registry import HEADS

from .detector import HELD_OUT, Detector

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


def make_detector(name: str, opts: FitOptions, progress: Callable[..., None] | None = None) -> Detector:
    """The registry's class for `name` with its default parameters, overridden by `opts.params[name]`."""
    info = heads_registry.get(name)
    cls: type[Detector] = info.load()
    return cls.from_options(opts, {**info.defaults(), **opts.params.get(name, {})}, progress)


class _EpochBars:
    """One tqdm bar per training phase of a Deep SVDD head."""

    def __init__(self, head: str, enabled: bool) -> None:
        self.head, self.enabled = head, enabled
        self.bar: tqdm | None = None
        self.phase: str | None = None

    def __call__(self, phase: str, epoch: int, epochs: int, val_loss: float) -> None:
        if not self.enabled:
            return
        if phase != self.phase or epoch == 1:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=epochs, desc=f"{self.head} {phase}", unit="epoch", leave=False)
        assert self.bar is not None
        self.bar.update(1)
        self.bar.set_postfix(val_loss=f"{val_loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit_heads(X: np.ndarray, opts: FitOptions) -> dict[str, Detector]:
    """Train every requested head on the same normal embeddings."""
    X = check_training(X)
    fitted = {}
    for name in opts.heads:
        bars = _EpochBars(name, opts.progress)
        det = make_detector(name, opts, bars)
        try:
            det.fit(X)
        except ValueError as exc:
            raise ModelError(f"head '{name}' could not be trained: {exc}") from exc
        finally:
            bars.close()
        fitted[name] = det
    return fitted


def check_training(X: np.ndarray) -> np.ndarray:
    X = check_embeddings(X, what="training embeddings")
    if len(X) < MIN_TRAINING:
        raise ModelError(f"fit needs at least {MIN_TRAINING} loops to learn what normal sounds like; got {len(X)}")
    if len(X) < FEW_TRAINING:
        log.warning("warning: only %d loops; the model will be rough (a few dozen or more is better)", len(X))
    return X


def save_bundle(
    dest: Path,
    name: str,
    detectors: dict[str, Detector],
    encoder: EncoderRef,
    training: dict[str, Any],
    calibration: dict[str, Any] | None = None,
    force: bool = False,
    primary: str | None = None,
) -> Path:
    if primary is None:
        primary = DEFAULT_PRIMARY if DEFAULT_PRIMARY in detectors else next(iter(detectors))
    elif primary not in detectors:
        raise LoopbridgeError(f"primary head '{primary}' is not among the trained heads ({', '.join(detectors)})")
    specs = [det.spec(h) for h, det in detectors.items()]
    graphs = {h: det.to_onnx().SerializeToString() for h, det in detectors.items()}
    return write_bundle(dest, make_manifest(name, encoder, specs, primary, training, calibration), graphs, specs, force)


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


def calibrate_checks(files: list[str], progress: bool = True) -> dict[str, Any] | None:
    """What the technical checks measure on this library, so its own clipping or hiss is judged normal.

    Reads each file as recorded; files that are gone or unreadable (e.g. listed in an old .npz) are left out.
    """

    def natives() -> Iterator[NativeAudio]:
        for f in tqdm(files, desc="calibrating checks", unit="file", disable=not progress, leave=False):
            try:
                yield audio.read_native(f)
            except (LoopbridgeError, OSError):
                continue

    calibration = checks.calibrate(natives())
    return calibration if calibration["n"] else None


def encoder_ref(encoder: Encoder) -> EncoderRef:
    return EncoderRef(encoder.name, encoder.sha256, encoder.id, encoder.dim)


def embeddings_ref(emb: Embeddings) -> EncoderRef:
    """For `fit --embeddings`: the .npz names its encoder; a plain .npy matrix does not."""
    return EncoderRef(emb.encoder_name or None, None, emb.encoder_id or None, int(emb.vectors.shape[1]))


def summary_line(name: str, det: Detector) -> str:
    basis = f"{det.training_scores_.size} {det.threshold_basis_} scores"
    return f"{name:<12} threshold {det.threshold_:.5g} (q{det.quantile:g} of {basis})  {det.describe()}"
