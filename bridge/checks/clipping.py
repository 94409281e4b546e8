"""Clipping: flat tops at the take's own ceiling, samples over full scale, and the true (inter-sample) peak."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .rules import Rule
from .take import Take, Where, db

MIN_RUN = 3  # one sample at the peak is a peak; three equal ones in a row are a flat top
CEILING_TOL = 1e-4  # relative: 24-bit and float flat tops are exact, this covers dither and 16-bit rounding
MIN_CEILING_DB = -30.0  # below this, equal neighbours are quantisation, not a clipped converter
OVERSAMPLE = 4
TP_CANDIDATES = 256
TP_BLOCKS = 64  # the loudest 1 ms blocks hold the loudest samples


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    clipped: list[np.ndarray] = []
    for c in range(take.channels):
        ceiling = float(take.peaks[c])
        if db(ceiling) < MIN_CEILING_DB:
            continue
        near = np.flatnonzero(take.abs[c] >= ceiling * (1.0 - CEILING_TOL))
        if near.size < MIN_RUN:
            continue
        # runs of consecutive indices among the near-ceiling samples
        breaks = np.flatnonzero(np.diff(near) != 1) + 1
        starts, lengths = runs_of_indices(near, breaks)
        keep = lengths >= MIN_RUN
        clipped.extend(np.arange(s, s + n) for s, n in zip(near[starts[keep]], lengths[keep], strict=False))
    overs = np.flatnonzero(take.abs.max(axis=0) > 1.0) if take.peak > 1.0 else np.empty(0, int)
    hits = np.unique(np.concatenate([*clipped, overs])) if clipped or overs.size else np.empty(0, int)
    where = Where()
    if hits.size:
        where = Where(take.seconds(hits[0]), take.seconds(hits[-1] - hits[0] + 1), f"{overs.size}")
    tp, at = true_peak(take)
    return {"clipped_samples": float(hits.size), "true_peak_db": float(db(tp))}, {
        "clipped_samples": where,
        "true_peak_db": Where(take.seconds(at), 1.0 / take.sr),
    }


def runs_of_indices(idx: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into idx) where runs of consecutive integers start, and their lengths."""
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [idx.size]])
    return starts, ends - starts


def true_peak(take: Take) -> tuple[float, int]:
    """Peak of the 4x oversampled signal (BS.1770 style) and the sample it is next to.

    Only the loudest samples are examined: those of the loudest 1 ms blocks, which costs a few hundred
    samples' interpolation instead of a pass over the take.
    """
    peak = take.peak
    at = int(np.argmax(take.abs.max(axis=0)))
    if peak < 0.5:  # an inter-sample peak cannot plausibly reach full scale from 6 dB below
        return peak, at
    kernel = _polyphase(OVERSAMPLE)
    half = kernel.shape[1] // 2
    hop = take.env_hop
    best = peak
    for c in range(take.channels):
        blocks = take.block_peaks[c]
        k = min(TP_BLOCKS, blocks.size)
        top = np.argpartition(blocks, -k)[-k:] if k else np.empty(0, int)
        cand = (top[:, None] * hop + np.arange(hop)[None, :]).ravel()
        cand = cand[(cand >= half) & (cand < take.frames - half)]
        if cand.size > TP_CANDIDATES:
            cand = cand[np.argpartition(take.abs[c, cand], -TP_CANDIDATES)[-TP_CANDIDATES:]]
        if not cand.size:
            continue
        windows = take.x[c][cand[:, None] + np.arange(-half + 1, half + 1)[None, :]]  # (k, taps)
        between = np.abs(np.einsum("kt,pt->kp", windows, kernel)).max(axis=1)
        i = int(np.argmax(between))
        if between[i] > best:
            best, at = float(between[i]), int(cand[i])
    return best, at


@lru_cache(maxsize=4)
def _polyphase(factor: int, taps: int = 32) -> np.ndarray:
    """Windowed-sinc interpolators for the fractional positions 1/factor … (factor-1)/factor: (factor-1, taps)."""
    t = np.arange(-taps // 2 + 1, taps // 2 + 1, dtype=np.float64)
    rows = []
    for p in range(1, factor):
        u = t - p / factor
        rows.append(np.sinc(u) * np.kaiser(taps, 8.0))
    return np.asarray(rows, dtype=np.float32)


def _clipped(v: float, w: Where) -> str:
    n = int(v)
    overs = int(w.note or 0)
    if overs:
        return f"{overs} samples above full scale from {w.start_s:.2f} s (float file): they will clip when bounced"
    if w.duration_s < 0.05:
        return f"clipped {n} samples around {w.start_s:.2f} s"
    return f"clipped {n} samples between {w.start_s:.2f} s and {w.start_s + w.duration_s:.2f} s (flat tops at the peak level)"


RULES = (
    Rule("clipped_samples", "clipping", default=8.0, worse="high", margin=8.0, scale=40.0, describe=_clipped),
    Rule(
        "true_peak_db",
        "clipping",
        default=0.0,
        worse="high",
        margin=0.5,
        scale=1.0,
        describe=lambda v, w: (
            f"true peak {v:+.1f} dBTP around {w.start_s:.2f} s: it goes over 0 dB between samples and will distort on playback"
        ),
    ),
)
