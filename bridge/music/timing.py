"""`timing`: a note whose onset is off the grid of the known tempo and meter by more than the groove allows.

The grid is sixteenths from the take's first sample. The groove is what is normal at each sixteenth of the beat
(swing puts the off-beats late, a laid-back player sits behind every beat): its offset and spread per position,
learned from the library at `fit`; where the take plays a position three times or more, its own median offset
there replaces the library's, so one late note stands out from a feel the whole take shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..results import Finding
from .context import MusicContext
from .notes import Note

POSITIONS = 4  # sixteenths per beat
STRUM_S = 0.045  # onsets closer than this are one event (a strum, a chord)
MIN_CONFIDENCE = 0.6
DEFAULT_SPREAD_S = 0.009  # one player's onset spread, plus the transcription's own, on a normal take
DEFAULT_FLOOR_S = 0.05  # never call a note late or early by less than this without a library's own floor (`fit`)
MIN_STRENGTH = 0.4  # only an attack this clear (velocity × confidence) is judged: faint notes' onsets drift
SPREADS = 3.0  # how many spreads past the groove's offset a note may lie
AMBIGUOUS = 0.35  # past this share of a sixteenth a deviation may be the other way to the next one


@dataclass(frozen=True)
class Groove:
    """Per sixteenth-of-the-beat position: the usual offset from the grid (s, + = late) and its spread (s)."""

    offset_s: tuple[float, ...] = (0.0,) * POSITIONS
    spread_s: tuple[float, ...] = (DEFAULT_SPREAD_S,) * POSITIONS
    floor_s: float = DEFAULT_FLOOR_S
    learned: bool = False  # from a library (fit); the built-in one does not know whether the part swings

    @classmethod
    def from_calibration(cls, calibration: dict | None) -> Groove:
        g = (calibration or {}).get("groove")
        if not g:
            return cls()
        return cls(tuple(g["offset_s"]), tuple(g["spread_s"]), float(g.get("floor_s", DEFAULT_FLOOR_S)), True)


@dataclass(frozen=True)
class Event:
    """One attack: a note, or a chord's strings struck together (onset = the first string)."""

    onset_s: float
    notes: tuple[Note, ...]

    @property
    def strength(self) -> float:
        return max(n.velocity * n.confidence for n in self.notes)


def events(notes: list[Note]) -> list[Event]:
    """Confident notes on an attack of their own, grouped into attacks, in time order."""
    sure = sorted((n for n in notes if n.placed and n.confidence >= MIN_CONFIDENCE), key=lambda n: n.onset_s)
    out: list[list[Note]] = []
    for n in sure:
        if out and n.onset_s - out[-1][0].onset_s < STRUM_S:
            out[-1].append(n)
        else:
            out.append([n])
    return [Event(g[0].onset_s, tuple(g)) for g in out]


def grid_offsets(onsets: np.ndarray, bpm: float) -> tuple[np.ndarray, np.ndarray]:
    """(offset from the nearest sixteenth in s, that sixteenth's position within the beat 0..3)."""
    step = 60.0 / bpm / POSITIONS
    index = np.round(onsets / step).astype(int)
    return onsets - index * step, index % POSITIONS


def deviations(evts: list[Event], bpm: float, groove: Groove) -> tuple[np.ndarray, np.ndarray]:
    """Each event's deviation from where the groove puts it (s), and the tolerance there (s)."""
    onsets = np.array([e.onset_s for e in evts])
    if not onsets.size:
        return np.zeros(0), np.zeros(0)
    off, pos = grid_offsets(onsets, bpm)
    expected = np.array([groove.offset_s[p] for p in pos])
    # the take's own feel: the off-beat sixteenths (1, 3) pooled, then each position it plays 3+ times
    felt = np.zeros(onsets.size, bool)
    for here in [(pos % 2) == 1] + [pos == p for p in range(POSITIONS)]:
        if here.sum() >= 3:
            expected[here] = float(np.median(off[here]))
            felt |= here
    # an off-beat whose feel neither the take nor a library shows may be swung: anywhere from straight to a
    # third of a sixteenth late is normal there
    unknown = ((pos % 2) == 1) & ~felt & (not groove.learned)
    swung = np.clip(off, expected, expected + 60.0 / bpm / POSITIONS / 3)
    expected = np.where(unknown, swung, expected)
    tolerance = np.maximum(groove.floor_s, SPREADS * np.array([groove.spread_s[p] for p in pos]))
    return off - expected, tolerance


def findings(notes: list[Note], ctx: MusicContext, groove: Groove) -> list[Finding]:
    """One finding per event off the groove; without a tempo nothing can be judged."""
    if not ctx.bpm:
        return []
    evts = events(notes)
    dev, tol = deviations(evts, ctx.bpm, groove)
    step = 60.0 / ctx.bpm / POSITIONS
    out = []
    for e, d, t in zip(evts, dev, tol, strict=True):
        # beyond half a sixteenth the note belongs to the next grid point: that is a different part, not a slip
        if abs(d) <= t or abs(d) >= 0.5 * step or e.strength < MIN_STRENGTH:
            continue
        excess = (abs(d) - t) / max(t, 1e-3)
        severity = round(float(1.0 - 0.7 * np.exp(-2.0 * excess)), 3)
        ms = round(abs(d) * 1000)
        where = ctx.where(e.onset_s - d)
        # far from its sixteenth it may as well be the neighbour's, off the other way: say both
        other = f" (or {round((step - abs(d)) * 1000)} ms {'early' if d > 0 else 'late'} for the {'next' if d > 0 else 'previous'} sixteenth)"
        out.append(
            Finding(
                "timing",
                severity,
                round(e.onset_s, 4),
                round(abs(d), 4),
                f"the note at {e.onset_s:.2f} s ({where}) is {ms} ms {'late' if d > 0 else 'early'}"
                + (other if abs(d) > AMBIGUOUS * step else ""),
            )
        )
    return out
