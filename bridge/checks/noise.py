"""Noise: hiss (a broadband floor heard in the quiet moments) and mains hum (a steady 50/60 Hz line)."""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where, db

FRAME_MS = 10.0
QUIET_PERCENTILE = 10.0
MAINS = (50.0, 60.0)
HARMONICS = (1, 2, 3)
MIN_COHERENCE = 0.8
HUM_RATE = 1000.0  # Hz: hum analysis runs on a block-averaged copy, far cheaper than the full rate


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    hiss = _hiss_db(take)
    hum, mains = _hum(take)
    whole = Where(0.0, take.native.duration_s)
    return {"hiss_db": hiss, "hum_db": hum}, {"hiss_db": whole, "hum_db": Where(0.0, take.native.duration_s, f"{mains:.0f}")}


def _hiss_db(take: Take) -> float:
    """Treble level of the quietest 10 ms frames (fourth difference: +24 dB/octave, so hiss shows and a guitar cab's top end does not)."""
    hop = int(FRAME_MS * take.sr / 1000)
    n = (take.frames - 4) // hop
    if n < 4:
        return -200.0
    d4 = np.diff(take.x[:, : n * hop + 4], 4, axis=1)
    power = (d4.reshape(take.channels, n, hop) ** 2).mean(axis=2).max(axis=0)
    sounding = power[power > 0]
    if not sounding.size:
        return -200.0
    # white noise of RMS s gives a fourth difference of RMS s*sqrt(70): report the noise's own level
    return float(db(np.sqrt(np.percentile(sounding, QUIET_PERCENTILE) / 70.0)))


def _hum(take: Take) -> tuple[float, float]:
    """Level (dBFS) of the mains line that stands out of its spectral neighbourhood, and which mains."""
    q = max(1, int(round(take.sr / HUM_RATE)))
    n = take.frames // q
    if n < 256:
        return -200.0, 0.0
    mono = take.x[:, : n * q].mean(axis=0) if take.channels > 1 else take.x[0, : n * q]
    low = mono.reshape(n, q).mean(axis=1, dtype=np.float64)
    low = low - low.mean()
    rate = take.sr / q
    win = np.hanning(n)
    nfft = 1 << int(np.ceil(np.log2(4 * n)))
    spec = np.abs(np.fft.rfft(low * win, nfft)) * 2.0 / win.sum()
    hz = rate / nfft
    best, which = -200.0, 0.0
    for f0 in MAINS:
        if _coherence(low, rate, f0) < MIN_COHERENCE:
            continue
        excess = 0.0
        for h in HARMONICS:
            f = f0 * h
            if f >= rate / 2 - 5:
                continue
            centre, reach = int(round(f / hz)), max(2, int(round(1.5 / hz)))
            near = spec[centre - reach : centre + reach + 1]
            if abs(int(np.argmax(near)) - reach) * hz > 0.3:  # the peak is a note beside the mains frequency
                continue
            line = near[reach]
            around = np.array([spec[int(round((f + d) / hz))] for d in (-6.0, -5.0, -4.0, -3.0, 3.0, 4.0, 5.0, 6.0)])
            bg = float(np.median(around))
            if line > 4 * bg:  # at least 12 dB out of its neighbourhood: a steady line, not a note's smear
                excess += line**2 - bg**2
        level = float(db(np.sqrt(excess))) if excess > 0 else -200.0
        if level > best:
            best, which = level, f0
    return best, which


def _coherence(low: np.ndarray, rate: float, f0: float, parts: int = 4) -> float:
    """1 for a tone that keeps its level and phase through the take (hum); lower for notes that come and go."""
    t = np.arange(low.size) / rate
    z = low * np.exp(-2j * np.pi * f0 * t)
    c = np.array([seg.mean() for seg in np.array_split(z, parts)])
    return float(np.abs(c.mean()) / max(np.sqrt(np.mean(np.abs(c) ** 2)), 1e-20))


RULES = (
    Rule(
        "hiss_db", "noise", default=-60.0, worse="high", margin=3.0, scale=8.0,
        describe=lambda v, w: f"hiss: the noise floor in the quiet moments is {v:.0f} dBFS",
    ),
    Rule(
        "hum_db", "noise", default=-60.0, worse="high", margin=3.0, scale=8.0,
        describe=lambda v, w: f"mains hum at {w.note} Hz, {v:.0f} dBFS: check cables and grounding",
    ),
)
