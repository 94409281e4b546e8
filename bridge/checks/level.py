"""Level: integrated loudness (ITU-R BS.1770, K-weighted and gated) and sample peak, too quiet or too loud.

The K-weighting filters are pyloudnorm's (its RBJ-cookbook high shelf and high pass, the same coefficients;
their power response is evaluated here with numpy, so the check imports neither pyloudnorm nor scipy.signal,
which cost a one-file `check` most of its start-up). Filtering the take sample by sample is the slowest step of
all checks, and gating needs only the energy of each 100 ms step, so that energy is read off each
step's spectrum weighted by the filters' power response (Parseval). It treats each step as if it
repeated, which moves the result by under 0.02 dB on music and 0.1 dB on hard-clipped takes
(tests compare with pyloudnorm); the gating is BS.1770's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from .rules import Rule
from .take import Take, Where, db

BLOCK_S, STEP_S = 0.4, 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)


@lru_cache(maxsize=8)
def _k_power(sr: int, n: int) -> np.ndarray:
    """Weights that turn the rfft of n samples into the energy of their K-weighted version (BS.1770-4 filters)."""
    z_inv = np.exp(-2j * np.pi * np.fft.rfftfreq(n, 1.0 / sr) / sr)  # e^{-jω} at each rfft bin
    h = np.ones_like(z_inv)
    for b, a in (_high_shelf(sr, 4.0, 1 / np.sqrt(2), 1500.0), _high_pass(sr, 0.5, 38.0)):
        h *= np.polyval(b[::-1], z_inv) / np.polyval(a[::-1], z_inv)
    w = np.abs(h) ** 2 * (2.0 / n)  # one-sided spectrum: every bin but DC and Nyquist stands for two
    w[0] /= 2
    if n % 2 == 0:
        w[-1] /= 2
    return w.astype(np.float32)


def _high_shelf(sr: int, gain_db: float, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    """BS.1770's stage 1 (head effects) as an RBJ-cookbook shelf: (b, a) in powers of z^-1."""
    a_ = 10 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * fc / sr
    cos, root = np.cos(w0), 2.0 * np.sqrt(a_) * np.sin(w0) / (2.0 * q)
    up, down = (a_ + 1) + (a_ - 1) * cos, (a_ + 1) - (a_ - 1) * cos
    b = a_ * np.array([up + root, -2 * ((a_ - 1) + (a_ + 1) * cos), up - root])
    return b, np.array([down + root, 2 * ((a_ - 1) - (a_ + 1) * cos), down - root])


def _high_pass(sr: int, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    """BS.1770's stage 2 (RLB weighting) as an RBJ-cookbook high pass."""
    w0 = 2.0 * np.pi * fc / sr
    cos, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    return np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]), np.array([1 + alpha, -2 * cos, 1 - alpha])


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness in LUFS of (channels, frames) audio; -200 for silence."""
    x = np.asarray(x, dtype=np.float32)
    channels = x.shape[0]
    step = round(STEP_S * sr)
    n_steps = x.shape[1] // step
    if n_steps >= 4:
        spec = scipy.fft.rfft(x[:, : n_steps * step].reshape(channels, n_steps, step), axis=2)
        power = spec.real**2 + spec.imag**2
        per_step = np.einsum("csk,k->sc", power, _k_power(sr, step)).astype(
            np.float64
        )  # (steps, ch) energy of each 100 ms step
        blocks = sum(per_step[i : n_steps - 3 + i] for i in range(4)) / (4 * step)  # 400 ms blocks, 75 % overlap
    else:  # shorter than one gating block: the whole take is the block
        n = max(x.shape[1], 1)
        spec = scipy.fft.rfft(x, axis=1)
        blocks = np.einsum("ck,k->c", spec.real**2 + spec.imag**2, _k_power(sr, n)).astype(np.float64)[None, :] / n
    gains = np.asarray(CHANNEL_GAINS[:channels] + (1.0,) * max(0, channels - len(CHANNEL_GAINS)))
    z = np.einsum("sc,c->s", blocks, gains)
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
        "loudness_lufs",
        "level",
        default=-40.0,
        worse="low",
        margin=3.0,
        scale=6.0,
        describe=lambda v, w: f"very quiet: {v:.0f} LUFS integrated; record hotter or raise the gain",
    ),
    Rule(
        "peak_db",
        "level",
        default=-30.0,
        worse="low",
        margin=3.0,
        scale=6.0,
        describe=lambda v, w: f"very quiet: peaks only reach {v:.0f} dBFS",
    ),
    Rule(
        "loudness_lufs",
        "level",
        default=-5.0,
        worse="high",
        margin=1.0,
        scale=3.0,
        describe=lambda v, w: f"very loud: {v:.1f} LUFS integrated, squashed against the ceiling; leave headroom",
    ),
    Rule(
        "peak_db",
        "level",
        default=-0.3,
        worse="high",
        margin=0.1,
        scale=0.3,
        describe=lambda v, w: f"peaks reach {v:.1f} dBFS: no headroom left; turn the input down a little",
    ),
)
