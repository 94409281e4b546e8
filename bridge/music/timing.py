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
from .context import STRUM_S, SURE, MusicContext
from .notes import Note

POSITIONS = 4  # sixteenths per beat
DEFAULT_SPREAD_S = 0.006  # one player's onset spread, plus the transcription's own, on a normal take
# never call a note late or early by less than this without a library's own floor (`fit`): clean rendered takes'
# worst clear attack sits 3–20 ms off its groove (one in 24 at 32 ms, a mis-placed onset)
DEFAULT_FLOOR_S = 0.033
MIN_STRENGTH = 0.4  # only an attack this clear (velocity × confidence) is judged: faint notes' onsets drift
SPREADS = 3.0  # how many spreads past the groove's offset a note may lie
AMBIGUOUS = 0.35  # past this share of a sixteenth a deviation may be the other way to the next one
FEEL_SPAN_BEATS = 2.0
SWING_STEPS = 3  # a swung off-beat comes up to a third of a sixteenth late
SWUNG_STEPS = 6  # a loop whose off-beats lie this share of a sixteenth later than its on-beats swings
MIXED_FEEL = 0.15  # a library with at least this share of swung loops, and of straight ones, has both feels
MASKED_S = 0.008  # an unplaced note starting this much before an event is its chord's first string, not noise
BAR_MATCH_S = 0.13  # the same note of the rhythm in another bar starts within this of the same place in its bar
BAR_MATCH_STEPS = 0.85  # ... and within this share of a sixteenth
BAR_LIMIT_S = 0.04  # a note this far from where the take's other bars play it departs from the take's own rhythm
BAR_MARGIN_S = 0.012  # ... when it is also this much further from the groove than they are


@dataclass(frozen=True)
class Groove:
    """Per sixteenth-of-the-beat position: the usual offset from the grid (s, + = late) and its spread (s)."""

    offset_s: tuple[float, ...] = (0.0,) * POSITIONS
    spread_s: tuple[float, ...] = (DEFAULT_SPREAD_S,) * POSITIONS
    floor_s: float = DEFAULT_FLOOR_S
    learned: bool = False  # from a library (fit); the built-in one does not know whether the part swings
    swung_share: float | None = None  # of the library's loops that show their off-beats' feel, the swung ones

    @classmethod
    def from_calibration(cls, calibration: dict | None) -> Groove:
        g = (calibration or {}).get("groove")
        if not g:
            return cls()
        floor = float(g.get("floor_s", DEFAULT_FLOOR_S))
        return cls(tuple(g["offset_s"]), tuple(g["spread_s"]), floor, True, g.get("swung_share"))

    @property
    def knows_the_feel(self) -> bool:
        """A library whose loops all swing, or none do, says how an off-beat is played; one of both feels does not
        (its median offset is neither: a swung take's off-beats read late against a mostly straight library)."""
        mixed = self.swung_share is not None and MIXED_FEEL <= self.swung_share <= 1.0 - MIXED_FEEL
        return self.learned and not mixed


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
    sure = sorted((n for n in notes if n.placed and n.confidence >= SURE), key=lambda n: n.onset_s)
    out: list[list[Note]] = []
    for n in sure:
        if out and n.onset_s - out[-1][0].onset_s < STRUM_S:
            out[-1].append(n)
        else:
            out.append([n])
    return [Event(g[0].onset_s, tuple(g)) for g in out]


def unsure(evts: list[Event], notes: list[Note]) -> np.ndarray:
    """Events whose first string may be missing: a confident note with no attack of its own found starts before
    them within a strum (a strummed chord's first string masked, so the event's onset is a later string's)."""
    hidden = [n.onset_s for n in notes if not n.placed and n.confidence >= SURE]
    return np.array([any(e.onset_s - STRUM_S < t < e.onset_s - MASKED_S for t in hidden) for e in evts], bool).reshape(
        len(evts)
    )


def grid_offsets(onsets: np.ndarray, bpm: float) -> tuple[np.ndarray, np.ndarray]:
    """(offset from the nearest sixteenth in s, that sixteenth's position within the beat 0..3)."""
    step = 60.0 / bpm / POSITIONS
    index = np.round(onsets / step).astype(int)
    return onsets - index * step, index % POSITIONS


def _shows_feel(onsets: np.ndarray, bpm: float) -> bool:
    """Enough onsets at one place of the beat to show how it is played there: 3+, spread over FEEL_SPAN_BEATS (a
    slip of 1–3 notes in a row is no feel of its own, and would otherwise excuse itself)."""
    return onsets.size >= 3 and float(np.ptp(onsets)) >= FEEL_SPAN_BEATS * 60.0 / bpm


def swings(evts: list[Event], bpm: float) -> bool | None:
    """Whether a loop's off-beats come later than its on-beats, by SWUNG_STEPS of a sixteenth or more; None where
    its off-beats show no feel (_shows_feel) or it plays nothing else."""
    onsets = np.array([e.onset_s for e in evts])
    off, pos = grid_offsets(onsets, bpm)
    odd = (pos % 2) == 1
    if odd.all() or not _shows_feel(onsets[odd], bpm):
        return None
    return bool(np.median(off[odd]) - np.median(off[~odd]) > 60.0 / bpm / POSITIONS / SWUNG_STEPS)


def deviations(evts: list[Event], bpm: float, groove: Groove) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each event's deviation from where the groove puts it (s), the same without the benefit of a swing (s), and
    the tolerance there (s). The benefit: an off-beat whose feel neither the take nor the library shows may be
    swung."""
    onsets = np.array([e.onset_s for e in evts])
    if not onsets.size:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    off, pos = grid_offsets(onsets, bpm)
    expected = np.array([groove.offset_s[p] for p in pos])
    # the take's own feel: the off-beat sixteenths (1, 3) pooled, then each position it plays 3+ times
    felt = np.zeros(onsets.size, bool)
    for here in [(pos % 2) == 1] + [pos == p for p in range(POSITIONS)]:
        if _shows_feel(onsets[here], bpm):  # a feel is the whole take's, not a run of slipped notes
            expected[here] = float(np.median(off[here]))
            felt |= here
    # an off-beat whose feel neither the take nor a library shows (one of both feels shows none) may be swung:
    # anywhere from straight to a third of a sixteenth late is normal there
    unknown = ((pos % 2) == 1) & ~felt & (not groove.knows_the_feel)
    lo, hi = np.minimum(expected, 0.0), np.maximum(expected, 0.0) + 60.0 / bpm / POSITIONS / SWING_STEPS
    swung = np.where(unknown, np.clip(off, lo, hi), expected)
    tolerance = np.maximum(groove.floor_s, SPREADS * np.array([groove.spread_s[p] for p in pos]))
    return off - swung, off - expected, tolerance


def bar_departures(
    evts: list[Event], bpm: float, beats_per_bar: float, dev: np.ndarray, trusted: np.ndarray
) -> np.ndarray:
    """Each event's shift (s, + = late) from the same note of the rhythm in the take's other bars, where it departs
    from them: a loop repeats its rhythm bar after bar, so a note played off it stands out even when the grid
    can't tell (a slip past half a sixteenth reads as the neighbouring sixteenth's). Of two notes that disagree,
    the one further from the groove (`dev`) departs; NaN where none is found or the bars agree. Only `trusted`
    onsets are compared."""
    out = np.full(len(evts), np.nan)
    bar = 60.0 / bpm * beats_per_bar
    onsets = np.array([e.onset_s for e in evts])
    if onsets.size < 2 or onsets[-1] - onsets[0] < bar * 0.75:
        return out
    index = np.floor((onsets + 0.5 * 60.0 / bpm / POSITIONS) / bar)
    within = onsets - index * bar
    # a whole sixteenth away is another note of the rhythm, played in one bar and not the other (a variation)
    window = min(BAR_MATCH_S, BAR_MATCH_STEPS * 60.0 / bpm / POSITIONS)
    for i in range(onsets.size):
        others = np.nonzero((index != index[i]) & trusted)[0]
        if not others.size:
            continue
        gap = within[i] - within[others]
        near = others[np.abs(gap) < window]
        if not near.size:
            continue
        j = near[np.argmin(np.abs(within[i] - within[near]))]
        d = within[i] - within[j]
        if abs(d) > BAR_LIMIT_S and abs(dev[i]) > abs(dev[j]) + BAR_MARGIN_S:
            out[i] = d
    return out


def findings(notes: list[Note], ctx: MusicContext, groove: Groove) -> list[Finding]:
    """One finding per event off the groove, or off the take's own rhythm in its other bars; without a tempo
    nothing can be judged."""
    if not ctx.bpm:
        return []
    evts = events(notes)
    # where the bars disagree, the take's other bars show whether that off-beat is swung: no benefit of the doubt
    dev, strict, tol = deviations(evts, ctx.bpm, groove)
    masked = unsure(evts, notes)
    rep = bar_departures(evts, ctx.bpm, ctx.meter[0] * 4.0 / ctx.meter[1], strict, ~masked)
    step = 60.0 / ctx.bpm / POSITIONS
    out = []
    for e, d, t, r, u in zip(evts, dev, tol, rep, masked, strict=True):
        if e.strength < MIN_STRENGTH or u:
            continue
        # beyond half a sixteenth the note belongs to the next grid point: that is a different part, not a slip
        if t < abs(d) < 0.5 * step:
            excess = (abs(d) - t) / max(t, 1e-3)
            ms = round(abs(d) * 1000)
            where = ctx.where(e.onset_s - d)
            # far from its sixteenth it may as well be the neighbour's, off the other way: say both
            other = f" (or {round((step - abs(d)) * 1000)} ms {'early' if d > 0 else 'late'} for the {'next' if d > 0 else 'previous'} sixteenth)"
            text = f"the note at {e.onset_s:.2f} s ({where}) is {ms} ms {'late' if d > 0 else 'early'}" + (
                other if abs(d) > AMBIGUOUS * step else ""
            )
            out.append(_finding(e, excess, abs(d), text))
        elif np.isfinite(r):
            excess = (abs(r) - BAR_LIMIT_S) / BAR_LIMIT_S
            text = (
                f"the note at {e.onset_s:.2f} s ({ctx.where(e.onset_s)}) comes {round(abs(r) * 1000)} ms "
                f"{'after' if r > 0 else 'before'} where the take's other bars play it"
            )
            out.append(_finding(e, excess, abs(r), text))
    return out


def _finding(e: Event, excess: float, by_s: float, text: str) -> Finding:
    severity = round(float(1.0 - 0.7 * np.exp(-2.0 * excess)), 3)
    return Finding("timing", severity, round(e.onset_s, 4), round(by_s, 4), text)
