"""Level: integrated loudness (ITU-R BS.1770, K-weighted and gated) and sample peak, too quiet or too loud.

The K-weighting filters are pyloudnorm's; the gating is vectorised here because pyloudnorm's
per-block Python loop costs tens of milliseconds per take (tests compare the two).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import sosfilt, tf2sos

from .rules import Rule
from .take import Take, Where, db

BLOCK_S, STEP_S = 0.4, 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)


@lru_cache(maxsize=8)
def _k_weighting(sr: int) -> np.ndarray:
    from pyloudnorm import Meter

    meter = Meter(sr)  # BS.1770-4 filter design
    # float32 like the audio: scipy then filters without converting the whole take to float64
    return np.concatenate([tf2sos(f.b, f.a) for f in meter._filters.values()]).astype(np.float32)


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness in LUFS of (channels, frames) audio; -200 for silence."""
    y = sosfilt(_k_weighting(sr), np.asarray(x, dtype=np.float32), axis=1)
    step = int(round(STEP_S * sr))
    n_steps = y.shape[1] // step
    per_step = (y[:, : n_steps * step] ** 2).reshape(y.shape[0], n_steps, step).sum(axis=2, dtype=np.float64).T  # (steps, ch)
    if n_steps >= 4:
        blocks = sum(per_step[i : n_steps - 3 + i] for i in range(4)) / (4 * step)  # 400 ms blocks, 75 % overlap
    else:  # shorter than one gating block: the whole take is the block
        blocks = (y.astype(np.float64) ** 2).mean(axis=1)[None, :]
    gains = np.asarray(CHANNEL_GAINS[: y.shape[0]] + (1.0,) * max(0, y.shape[0] - len(CHANNEL_GAINS)))
    z = blocks @ gains
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(z)
    keep = lk >= ABSOLUTE_GATE
    if not keep.any():
        return -200.0
    relative = -0.691 + 10 * np.log10(z[keep].mean()) + RELATIVE_GATE
    keep &= lk > relative
    return float(-0.691 + 10 * np.log10(z[keep].mean()))


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    whole = Where(0.0, take.native.duration_s)
    return {"loudness_lufs": integrated_loudness(take.x, take.sr), "peak_db": float(db(take.peak))}, {
        "loudness_lufs": whole,
        "peak_db": whole,
    }


RULES = (
    Rule(
        "loudness_lufs", "level", default=-40.0, worse="low", margin=3.0, scale=6.0,
        describe=lambda v, w: f"very quiet: {v:.0f} LUFS integrated; record hotter or raise the gain",
    ),
    Rule(
        "peak_db", "level", default=-30.0, worse="low", margin=3.0, scale=6.0,
        describe=lambda v, w: f"very quiet: peaks only reach {v:.0f} dBFS",
    ),
    Rule(
        "loudness_lufs", "level", default=-5.0, worse="high", margin=1.0, scale=3.0,
        describe=lambda v, w: f"very loud: {v:.1f} LUFS integrated, squashed against the ceiling; leave headroom",
    ),
    Rule(
        "peak_db", "level", default=-0.3, worse="high", margin=0.1, scale=0.3,
        describe=lambda v, w: f"peaks reach {v:.1f} dBFS: no headroom left; turn the input down a little",
    ),
)
