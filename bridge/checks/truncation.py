"""Truncation: a take that stops dead instead of decaying, or a loop whose end does not run into its start.

A loop may end while a note still rings, as long as the ring continues at the start (the release tail
wraps around). So "playing at the end" alone is no fault: the fault is a seam that jumps when the loop
repeats, or a sound that drops to silence in a millisecond and stays silent until the end.

Mains hum sounds all through a take and does not line up across the seam either, yet nothing was cut
off: when the noise check finds steady mains lines, the seam is judged again with them taken out, and
only a jump the hum cannot explain counts (hiss is already part of the prediction error the jump is
weighed against).
"""

from __future__ import annotations

import numpy as np

from . import dropouts, noise
from .rules import Rule
from .take import Take, Where, db

END_PLAYING_DB = -30.0  # the last 5 ms are within this of the playing level
SEAM_MS = 10.0
LPC_ORDER = 12
# The hum is fitted on 1 ms block averages next to the music, so some of it stays after removal; how much,
# the fits on the take's two halves tell by how far they disagree at the seam. A jump counts only beyond
# HUM_SLACK times that (on generated loops: hum-only loops given truncation 90 % -> 1-4 %, truncated
# loops with hum still given truncation 76-86 %, truncated loops without hum unchanged)
HUM_SLACK = 4.0


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    starts, lengths = take.once(dropouts.gaps)
    hop = take.env_hop
    tail = starts + lengths >= take.env.size
    cut_s, cut_where = 0.0, Where()
    if tail.any():
        s = int(starts[tail][0])
        cut_s = take.seconds(take.frames - s * hop)
        cut_where = Where(take.seconds(s * hop), cut_s, "silence")
    seam_db, seam_where = _seam(take)
    misfit_ms, misfit_where = _beat_misfit(take)
    return {"cut_to_silence_s": cut_s, "abrupt_end_db": seam_db, "beat_misfit_ms": misfit_ms}, {
        "cut_to_silence_s": cut_where,
        "abrupt_end_db": seam_where,
        "beat_misfit_ms": misfit_where,
    }


def _beat_misfit(take: Take) -> tuple[float, Where]:
    """With a known tempo, a loop lasts a whole number of beats: how far (ms) it is from the nearest one."""
    if not take.tempo_bpm:
        return 0.0, Where()
    beat_s = 60.0 / take.tempo_bpm
    duration = take.native.duration_s
    beats = duration / beat_s
    misfit = abs(beats - round(beats)) * beat_s
    whole = max(1, int(np.ceil(beats - 1e-6)))
    return 1000.0 * misfit, Where(duration, whole * beat_s - duration, f"{take.tempo_bpm:g}|{whole}")


def _seam(take: Take) -> tuple[float, Where]:
    """How much the waveform jumps where the loop repeats, against the music's own roughness (dB); 0 if it ends quietly."""
    n = max(8, int(SEAM_MS * take.sr / 1000))
    if take.frames < 2 * n or take.loud <= 0:
        return 0.0, Where()
    end = take.x[:, -n:].astype(np.float64)
    end_level = float(np.abs(end).max())
    if end_level < take.loud * 10 ** (END_PLAYING_DB / 20):
        return 0.0, Where()
    first = take.x[:, 0].astype(np.float64)
    ratio = _seam_error_db(end, first, take.loud)
    hum = take.once(noise.hum_lines)
    if hum.lines and ratio > 0:  # hum runs on through the seam in the room, not in the loop: take it out and look again
        t = np.concatenate([[0.0], take.seconds(take.frames - n) + np.arange(n) / take.sr])
        wave, spread = noise.hum_waveform(take, hum, t)
        ratio = min(ratio, _seam_error_db(end - wave[1:], first - wave[0], take.loud, HUM_SLACK * spread))
    return max(ratio, 0.0), Where(take.native.duration_s - n / take.sr, n / take.sr, f"{db(end_level / take.loud):.0f}")


def _seam_error_db(end: np.ndarray, first: np.ndarray, loud: float, slack: float = 0.0) -> float:
    """Linear prediction fitted on each channel's end: its error on the loop's first sample (less `slack`, what
    an imperfectly removed hum may still add) against its error on the end itself; the worst channel."""
    worst = -200.0
    for c in range(end.shape[0]):
        rows = np.lib.stride_tricks.sliding_window_view(end[c, :-1], LPC_ORDER)  # each row predicts the sample after it
        gram = np.einsum("ki,kj->ij", rows, rows)  # normal equations, with a hair of ridge for digital silence
        coef = _solve(
            gram + 1e-9 * (np.trace(gram) + 1e-30) * np.eye(LPC_ORDER), np.einsum("ki,k->i", rows, end[c, LPC_ORDER:])
        )
        residual = float(np.sqrt(np.mean((np.einsum("ki,i->k", rows, coef) - end[c, LPC_ORDER:]) ** 2)))
        across = max(abs(float(first[c]) - float(np.einsum("i,i->", end[c, -LPC_ORDER:], coef))) - slack, 0.0)
        worst = max(worst, float(db(across / max(residual, loud * 1e-5))))
    return worst


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gaussian elimination for a small symmetric positive definite system. Not np.linalg.solve: LAPACK wakes
    OpenBLAS's worker threads, which then spin and double the CPU time of every check after this one."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    n = b.size
    for i in range(n - 1):
        f = a[i + 1 :, i] / a[i, i]
        a[i + 1 :, i:] -= f[:, None] * a[i, i:][None, :]
        b[i + 1 :] -= f * b[i]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - np.sum(a[i, i + 1 :] * x[i + 1 :])) / a[i, i]
    return x


def _misfit(v: float, w: Where) -> str:
    bpm, beats = w.note.split("|")
    return (
        f"{w.start_s:.2f} s is not a whole number of beats at {bpm} BPM: {w.duration_s:.2f} s short of "
        f"{beats} beats — cut off before the end of the bar?"
    )


RULES = (
    Rule("beat_misfit_ms", "truncation", default=20.0, worse="high", margin=5.0, scale=50.0, describe=_misfit),
    Rule(
        "cut_to_silence_s",
        "truncation",
        default=0.002,
        worse="high",
        margin=0.01,
        scale=0.5,
        describe=lambda v, w: (
            f"stops dead at {w.start_s:.2f} s and stays silent for {v:.2f} s: the recording was cut off"
        ),
    ),
    Rule(
        "abrupt_end_db",
        "truncation",
        default=15.0,
        worse="high",
        margin=3.0,
        scale=8.0,
        describe=lambda v, w: (
            f"ends abruptly at {w.start_s + w.duration_s:.2f} s while still playing: the loop jumps when it repeats"
        ),
    ),
)
