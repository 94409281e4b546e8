"""Noise: hiss (a broadband floor heard in the quiet moments) and mains hum (a steady 50/60 Hz line)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .rules import Rule
from .take import Take, Where, db

FRAME_MS = 10.0
QUIET_PERCENTILE = 10.0
MAINS = (50.0, 60.0)
HARMONICS = (1, 2, 3)  # the reported hum level
LINE_HARMONICS = (1, 2, 3, 4, 5, 6, 7)  # the hum's waveform (buzz is rich in odd harmonics)
MIN_COHERENCE = 0.8
LINE_PROMINENCE = 1.5  # 3.5 dB: too faint to report, still part of the waveform truncation takes out
NEIGHBOURS_HZ = np.array([-6.0, -5.0, -4.0, -3.0, 3.0, 4.0, 5.0, 6.0])  # where a line's background is read


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    hiss = _hiss_db(take)
    hum = take.once(hum_lines)
    whole = Where(0.0, take.native.duration_s)
    return {"hiss_db": hiss, "hum_db": hum.level_db}, {
        "hiss_db": whole,
        "hum_db": Where(0.0, take.native.duration_s, f"{hum.mains:.0f}"),
    }


def _hiss_db(take: Take) -> float:
    """Treble level of the quietest 10 ms frames (fourth difference: +24 dB/octave, so hiss shows and a guitar cab's top end does not)."""
    hop = int(FRAME_MS * take.sr / 1000)
    n = (take.frames - 4) // hop
    if n < 4:
        return -200.0
    d2 = take.d2[:, : n * hop + 2]
    d4 = np.subtract(d2[:, 2:], d2[:, 1:-1])  # the second difference of the shared second difference
    d4 -= d2[:, 1:-1]
    d4 += d2[:, :-2]
    frames = d4.reshape(take.channels, n, hop)
    power = np.einsum("cnh,cnh->cn", frames, frames).max(axis=0) / hop
    sounding = power[power > 0]
    if not sounding.size:
        return -200.0
    # white noise of RMS s gives a fourth difference of RMS s*sqrt(70): report the noise's own level
    return float(db(np.sqrt(np.percentile(sounding, QUIET_PERCENTILE) / 70.0)))


@dataclass(frozen=True)
class Hum:
    """The mains lines found in a take: level (dBFS) and mains of the reportable ones, and every steady line
    as (frequency, complex amplitude at t = 0), so truncation can take the hum out at the loop's seam."""

    level_db: float = -200.0
    mains: float = 0.0
    lines: tuple[tuple[float, complex], ...] = ()

    def at(self, seconds: np.ndarray) -> np.ndarray:
        """The hum's waveform at these times."""
        out = np.zeros(np.shape(seconds))
        for f, c in self.lines:
            out += (c * np.exp(2j * np.pi * f * seconds)).real
        return out


def hum_lines(take: Take) -> Hum:
    """Mains lines that keep their level and phase through the take, on the take's 1 ms block averages.

    At ~1 kHz (mono) mains and its first harmonics are far below Nyquist, and the analysis costs a
    fraction of one at the full rate.
    """
    n = take.block_sums.shape[1]
    if n < 256:
        return Hum()
    hop = take.env_hop
    low = take.block_sums.sum(axis=0, dtype=np.float64) / (hop * take.channels)
    low -= low.mean()
    rate = take.sr / hop
    win = np.hanning(n)
    nfft = scipy.fft.next_fast_len(4 * n, real=True)
    spec = np.abs(scipy.fft.rfft(low * win, nfft)) * 2.0 / win.sum()
    hz = rate / nfft
    centres = (np.arange(n) * hop + (hop - 1) / 2) / take.sr  # each block average sits at its block's centre
    best, which, lines = -200.0, 0.0, []
    for f0, coh in zip(MAINS, _coherence(low, rate)):
        if coh < MIN_COHERENCE:
            continue
        excess = 0.0
        for h in LINE_HARMONICS:
            f = f0 * h
            if f >= rate / 2 - 5:
                continue
            centre, reach = int(round(f / hz)), max(2, int(round(1.5 / hz)))
            near = spec[centre - reach : centre + reach + 1]
            if abs(int(np.argmax(near)) - reach) * hz > 0.3:  # the peak is a note beside the mains frequency
                continue
            line = near[reach]
            bg = float(np.median(spec[np.round((f + NEIGHBOURS_HZ) / hz).astype(int)]))
            if h in HARMONICS and line > 4 * bg:  # at least 12 dB out of its neighbourhood: a steady line, not a note's smear
                excess += line**2 - bg**2
            if line > LINE_PROMINENCE * bg:
                boxcar = np.sin(np.pi * f * hop / take.sr) / (hop * np.sin(np.pi * f / take.sr))
                c = 2.0 * np.sum(win * low * np.exp(-2j * np.pi * f * centres)) / win.sum() / boxcar
                lines.append((f, complex(c)))
        level = float(db(np.sqrt(excess))) if excess > 0 else -200.0
        if level > best:
            best, which = level, f0
    return Hum(best, which, tuple(lines))


def _coherence(low: np.ndarray, rate: float, parts: int = 4) -> np.ndarray:
    """Per mains frequency: 1 for a tone that keeps its level and phase through the take (hum); lower for notes that come and go."""
    m = low.size // parts
    f0 = np.asarray(MAINS)
    t = np.arange(m) / rate
    phasor = np.exp(-2j * np.pi * t[:, None] * f0[None, :])  # (m, mains), one part long
    shift = np.exp(-2j * np.pi * (np.arange(parts) * m / rate)[:, None] * f0[None, :])  # where each part starts
    c = (low[: parts * m].reshape(parts, m) @ phasor) * shift / m  # (parts, mains)
    return np.abs(c.mean(axis=0)) / np.maximum(np.sqrt(np.mean(np.abs(c) ** 2, axis=0)), 1e-20)


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
