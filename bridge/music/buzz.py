"""`buzz`: fret buzz, string rattle or unwanted distortion just after an attack.

A rattling string slaps the fret every cycle: noise in the treble, where a clean note has only its harmonics'
peaks. Per attack, from 25 ms after the onset until the note ends or the next attack comes (at most 400 ms),
the treble's noise level: the geometric mean of the power from TREBLE_HZ to TOP_HZ (which the harmonics' peaks
barely move) over the note's whole power, dB. On rendered takes it kept clean notes and buzzing ones apart
(per note: clean ≤ 13 dB over their take's median, buzz ≥ 17 dB; per take the worst clean note reaches ~20 dB) where the treble's share of the energy or its flatness
alone overlapped. Each attack is compared with the take's own (their median): a library of overdriven guitars is
noisy on every note, so only a note that stands out from its take is buzz. The limit on that excess is the
library's (learned at `fit`) or DEFAULT_LIMIT_DB.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..results import Finding
from .context import SURE, MusicContext
from .notes import Note
from .timing import Event

TREBLE_HZ = 2500.0
TOP_HZ = 9000.0
START_S = 0.025
MAX_S = 0.4
MIN_S = 0.05  # a segment from 25 ms to 50 ms after the attack is enough: a rattle's own spurious onsets cut it short
DEFAULT_LIMIT_DB = 26.0  # clean rendered takes reach ~5–25 dB; a library's own limit (fit) is usually tighter
SCALE_DB = 6.0
MIN_STRENGTH = 0.33  # a faint note's treble is mostly the noise floor: not judged
N_FFT = 1024
UNPLACED_S = 0.025


@lru_cache(maxsize=64)
def _hann(size: int) -> np.ndarray:
    return np.hanning(size)


@lru_cache(maxsize=64)
def _bins(n: int, sr: int) -> tuple[int, int, int]:
    """Of an n-point rfft at `sr`: the first bin above 30 Hz, and the treble band's first and end bins (a compare
    measures thousands of windows, so these are not recomputed each time)."""
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    lo, hi = np.searchsorted(freqs, [TREBLE_HZ, min(TOP_HZ, sr / 2)], side="left")
    return int(np.searchsorted(freqs, 30.0, side="right")), int(lo), int(hi)


def _attack_starts(notes: list[Note] | None) -> tuple[np.ndarray, np.ndarray]:
    """The onsets of the notes the model is sure of (SURE), in time order, and from each on the earliest a new
    attack may start: a note's own onset, or, without an attack of its own found, the model's, up to ~25 ms off,
    so taken that much earlier. A note it is unsure of is often the rattle's own spurious onset: cut there, a
    buzzing note's window fell under MIN_S (benchmarks/musical.py against 3 earlier takes: buzz AUROC on seed 2
    0.91 → 0.94, its one clean take flagged for buzz no longer so; seeds 0, 1, 3 and 4 unchanged)."""
    ordered = sorted((n for n in notes or () if n.confidence >= SURE), key=lambda n: n.onset_s)
    onsets = np.array([n.onset_s for n in ordered])
    starts = np.array([n.onset_s - (0.005 if n.placed else UNPLACED_S) for n in ordered])
    return onsets, np.append(np.minimum.accumulate(starts[::-1])[::-1], np.inf)


def windows(duration_s: float, evts: list[Event], notes: list[Note] | None = None) -> list[tuple[float, float]]:
    """Where each attack's treble is measured: from START_S after it until the note ends, the next attack comes
    (any sure note of `notes`: a note whose attack was not placed is no event, but its pluck or slap would read
    as noise) or MAX_S, as (start_s, end_s)."""
    out = []
    onsets, earliest = _attack_starts(notes)
    for i, e in enumerate(evts):
        # a note starting within a strum of this attack is one of its strings, not the next attack
        later = earliest[np.searchsorted(onsets, e.onset_s + START_S + UNPLACED_S, side="right")]
        nxt = min(evts[i + 1].onset_s - 0.005 if i + 1 < len(evts) else duration_s, float(later))
        out.append((e.onset_s + START_S, min(e.onset_s + MAX_S, max(n.offset_s for n in e.notes), nxt)))
    return out


def noise_db(mono: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    """The treble noise level (dB re the segment's power) from `start_s` to `end_s`; NaN where too short or silent."""
    a, b = int(start_s * sr), int(end_s * sr)
    if (b - a) / sr < MIN_S - START_S:
        return float("nan")
    seg = mono[a:b].astype(np.float64)
    n = max(N_FFT, 1 << int(np.ceil(np.log2(seg.size))))
    power = np.abs(np.fft.rfft(seg * _hann(seg.size), n)) ** 2
    above_30, lo, hi = _bins(n, sr)
    band = power[lo:hi] + 1e-20
    total = power[above_30:].sum()
    if band.size < 8 or total <= 1e-15:
        return float("nan")
    return float(10.0 * np.mean(np.log10(band)) + 10.0 * np.log10(band.size / total))


def treble_noise_db(mono: np.ndarray, sr: int, evts: list[Event], notes: list[Note] | None = None) -> np.ndarray:
    """Treble noise level (dB re the note's power) after each attack, over its window (`windows`); NaN where too
    short to measure."""
    return np.array([noise_db(mono, sr, a, b) for a, b in windows(mono.size / sr, evts, notes)], dtype=float)


def excess_db(shares: np.ndarray) -> np.ndarray:
    """Each attack's treble noise over its take's median (dB); NaN (never buzz) where it can't be heard."""
    ok = np.isfinite(shares)
    if ok.sum() < 3:
        return np.full(shares.shape, np.nan)
    return np.where(ok, shares - float(np.median(shares[ok])), np.nan)


def findings(
    mono: np.ndarray,
    sr: int,
    evts: list[Event],
    ctx: MusicContext,
    limit_db: float = DEFAULT_LIMIT_DB,
    notes: list[Note] | None = None,
    levels: np.ndarray | None = None,
) -> list[Finding]:
    """One finding per attack whose treble noise stands out from the take's other attacks by more than the limit.
    `levels`: the attacks' treble noise where already measured (a comparison with sibling takes measures it)."""
    ex = excess_db(treble_noise_db(mono, sr, evts, notes) if levels is None else levels)
    out = []
    for e, x in zip(evts, ex, strict=True):
        if not np.isfinite(x) or x <= limit_db or e.strength < MIN_STRENGTH:
            continue
        severity = round(float(1.0 - 0.7 * np.exp(-(x - limit_db) / SCALE_DB)), 3)
        where = ctx.where(e.onset_s)
        out.append(
            Finding(
                "buzz",
                severity,
                round(e.onset_s + START_S, 4),
                round(MAX_S - START_S, 4),
                f"the note at {e.onset_s:.2f} s" + (f" ({where})" if where else "") + f" rattles or buzzes "
                f"(its treble is {x:.0f} dB noisier after the attack than the take's other notes)",
            )
        )
    return out
