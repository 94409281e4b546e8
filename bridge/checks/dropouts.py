"""Dropouts: the sound falls away within a couple of milliseconds while the instrument is playing, then comes back.

A string, even palm-muted, takes tens of milliseconds to die away; a buffer underrun or a bad edit
takes one. So a gap is a run of 1 ms frames far below the playing level that starts right after a
frame at playing level. Rests reached by a natural decay, and silence before the first note, are not gaps.
"""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where, runs

PLAYING_DB = -30.0  # the frame before the gap was at most this far below the playing level
GAP_DB = -50.0  # frames in the gap are at least this far below it
MIN_GAP_FRAMES = 2  # a low note's zero crossing can dip for one 1 ms frame, never for two


def gaps(take: Take) -> tuple[np.ndarray, np.ndarray]:
    """Start frame and length (in 1 ms frames) of every abrupt gap, including one that lasts to the end."""
    env, loud = take.env, take.loud
    if loud <= 0 or env.size < 3:
        return np.empty(0, int), np.empty(0, int)
    quiet = env < loud * 10 ** (GAP_DB / 20)
    starts, lengths = runs(quiet)
    before = np.maximum(env[np.maximum(starts - 1, 0)], env[np.maximum(starts - 2, 0)])
    abrupt = (starts >= 2) & (before >= loud * 10 ** (PLAYING_DB / 20)) & (lengths >= MIN_GAP_FRAMES)
    return starts[abrupt], lengths[abrupt]


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    starts, lengths = take.once(gaps)
    inside = starts + lengths < take.env.size  # a gap that never ends is a truncation, not a dropout
    starts, lengths = starts[inside], lengths[inside]
    hop = take.env_hop
    where = Where()
    if starts.size:
        i = int(np.argmax(lengths))
        where = Where(take.seconds(starts[i] * hop), take.seconds(lengths[i] * hop), str(starts.size))
    return {"dropout_ms": float(lengths.sum() * hop * 1000.0 / take.sr)}, {"dropout_ms": where}


def _describe(v: float, w: Where) -> str:
    n = int(w.note or 1)
    if n == 1:
        return f"dropout: the sound cuts out for {w.duration_s * 1000:.0f} ms at {w.start_s:.2f} s"
    return f"{n} dropouts ({v:.0f} ms in all), the longest {w.duration_s * 1000:.0f} ms at {w.start_s:.2f} s"


# Calibrated against the library's worst take, not its 95th percentile: picked bass with 2-9 ms of digital silence
# between some notes has the trait in a few loops only. It never tightens: 0.5 ms already means "any gap at all".
RULES = (
    Rule(
        "dropout_ms", "dropout", default=0.5, worse="high", margin=1.0, scale=10.0, describe=_describe, quantile="q100"
    ),
)
