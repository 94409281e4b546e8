"""The models a server answers with: bundles opened once, sharing one encoder session per preset, warmed up."""

from __future__ import annotations

import logging

import numpy as np

from ..audio import SAMPLE_RATE, Clip, NativeAudio
from ..bundle import Bundle, list_bundles
from ..context import TakeContext
from ..encoders import Encoder
from ..errors import ModelError
from ..pipeline import Scorer

log = logging.getLogger(__name__)


def open_models(names: list[str]) -> dict[str, Scorer]:
    """Scorers by bundle name, in the order given (the first is the default); all bundles when none are named."""
    if not names:
        names = [str(path) for _, path in list_bundles()]
        if not names:
            raise ModelError(
                "no model to serve yet: fit one with `loopbridge fit LOOPS_DIR --name NAME` (or try `loopbridge demo`)"
            )
    encoders: dict[str, Encoder] = {}
    scorers: dict[str, Scorer] = {}
    for name in names:
        bundle = Bundle.load(name)
        if bundle.name in scorers:
            raise ModelError(f"two models are named '{bundle.name}'; serve one of them")
        preset = bundle.encoder.preset
        if preset is None:
            raise ModelError(f"model '{bundle.name}' was fitted on plain embeddings; it cannot score audio")
        if preset not in encoders:
            encoders[preset] = Encoder.open(preset)
        scorers[bundle.name] = Scorer(bundle, encoders[preset])
    for scorer in scorers.values():
        warm_up(scorer)
    return scorers


def warm_up(scorer: Scorer) -> None:
    """Run the whole path once (encoder with a short and a long clip, every head, the technical and musical checks)
    so the first take is as fast as the tenth."""
    scorer.encoder.warm_up()
    # Four plucked notes at 120 BPM, not silence: the checks skip silent takes, the musical ones need notes and a
    # tempo and key to judge them by, and their first real run is the slow one.
    t = np.arange(2 * SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
    pitch = np.array([110.0, 130.8, 146.8, 164.8], np.float32)[(t * 2).astype(int)]
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    tone = (0.3 * np.sin(phase) * np.exp(-6.0 * (t % 0.5))).astype(np.float32)[:, None]
    scorer.score_clips(
        [Clip("warm-up", tone[:, 0], NativeAudio("warm-up", tone, SAMPLE_RATE, "FLOAT"))],
        contexts=[TakeContext(bpm=120.0, key="A minor", source="request")],
    )


def describe(scorer: Scorer) -> str:
    """The start-up line for one model."""
    b, enc = scorer.bundle, scorer.encoder
    heads = ", ".join(f"{h}{'*' if h == b.primary else ''} {b.thresholds[h]:.4g}" for h in b.heads)
    return f"model {b.name}: encoder {enc.name} on {enc.provider}; heads (threshold at q{b.quantiles[b.primary]:g}): {heads}"
