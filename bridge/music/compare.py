"""Takes of one part, compared with no training: where each take departs from the others.

The takes are assumed to share tempo and length and to start on the downbeat, so a note of one take is the
same note of another when it has the same pitch within MATCH_S. With three takes or more the others'
consensus decides (a note most of them play, at the median of their onsets); with two, a difference is
reported on both, and weighs on the take whose note is out of the key or further off the grid. A note added,
changed or left out within the key is said but not flagged (severity IN_KEY): players vary a part.

Departures, as reasons: `timing` (an onset shifted beyond the takes' own spread), `wrong_note` (a different
pitch where the others agree, or an added note), `missing_note` (a note the others play), `buzz` (more treble
and noise after the attack than the same note in the other takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..results import Finding
from . import buzz as buzz_check
from .context import STRUM_S, SURE, MusicContext
from .notes import NAMES, OVERTONES, Note
from .timing import MIN_STRENGTH, Event, events, grid_offsets

MATCH_S = 0.13  # the same note in another take starts within this
NEIGHBOUR_S = 0.07  # a different pitch this close is "played instead"
MIN_VELOCITY = 0.45
# a fainter note still counts as played instead where the others clearly play another pitch and this take lacks it
FAINT_CONFIDENCE = 0.5
FAINT_VELOCITY = 0.3
SPREAD_FLOOR_S = 0.010
TIMING_FLOOR_S = 0.03
SPREADS = 4.0
# over the same note in the siblings, measured over the window they share: said from 7 dB, flagged from 9 (severity
# 0.5); clean rendered notes reach 12 dB so, where their treble is at most 11 dB over their take's median
BUZZ_LIMIT_DB = 7.0
OWN_BUZZ_DB = 15.0  # and this much over the take's own median note
# measured at the others' attacks instead (at_their_attacks): clean rendered takes reached 19 dB there
THEIR_ATTACKS_DB = 20.0
SHARED_DB = 7.0  # a take's own buzz finding this little noisier than the same note in its siblings is the part's sound
OUT_OF_KEY = 0.85  # a note the others don't play, outside the key: almost surely wrong
IN_KEY = 0.35  # a note added, changed or left out within the key: said, but not flagged (a player's variation)
FLAG_SEVERITY = 0.5


@dataclass
class Take:
    path: str
    notes: list[Note]
    mono: np.ndarray
    sr: int
    _noise: dict[tuple[int, int], float] = field(default_factory=dict, repr=False, compare=False)

    def noise_db(self, start_s: float, end_s: float) -> float:
        """buzz.noise_db over this take, remembered: a comparison of 4 takes measures each window ~8 times."""
        key = (int(start_s * self.sr), int(end_s * self.sr))
        if key not in self._noise:
            self._noise[key] = buzz_check.noise_db(self.mono, self.sr, start_s, end_s)
        return self._noise[key]

    def sure(self) -> list[Note]:
        """The notes clearly played: what a missing or added note is judged on."""
        return [n for n in self.notes if n.confidence >= SURE and n.velocity >= MIN_VELOCITY]

    @cached_property
    def treble(self) -> _Treble:
        """Its attacks' treble noise, measured once: every take's comparison with it, and `not_shared`, read it
        (a sibling kept by music.sibling_take keeps it for the part's next take too)."""
        return _treble(self)


@dataclass
class Comparison:
    """One take against the others: its departures (reasons), a score (0 = plays what the others play)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    score: float = 0.0
    flag: bool = False
    rank: int = 0


def _match(n: Note, notes: list[Note], window: float = MATCH_S) -> Note | None:
    """The same note in another take: same pitch class (the model's octave slips are not the player's)."""
    same = [m for m in notes if (m.pitch - n.pitch) % 12 == 0 and abs(m.onset_s - n.onset_s) < window]
    return min(same, key=lambda m: abs(m.onset_s - n.onset_s)) if same else None


def _spread(others: list[Take]) -> float:
    """The takes' own onset spread: median over shared notes of their onsets' standard deviation."""
    if len(others) < 2:
        return SPREAD_FLOOR_S * 1.5
    sds = []
    for n in others[0].sure():
        onsets = [n.onset_s] + [m.onset_s for o in others[1:] if (m := _match(n, o.notes)) is not None]
        if len(onsets) == len(others):
            sds.append(float(np.std(onsets, ddof=1)))
    return max(SPREAD_FLOOR_S, float(np.median(sds)) if sds else SPREAD_FLOOR_S)


def _off_grid(t: float, ctx: MusicContext) -> float:
    return abs(float(grid_offsets(np.array([t]), ctx.bpm)[0][0])) if ctx.bpm else 0.0


def _severity(excess: float) -> float:
    return round(float(1.0 - 0.7 * np.exp(-excess)), 3)


def _label(ctx: MusicContext, t: float) -> str:
    where = ctx.where(t)
    return f"the note at {t:.2f} s" + (f" ({where})" if where else "")


def departures(this: Take, others: list[Take], ctx: MusicContext, name: str = "this take") -> list[Finding]:
    """Where `this` departs from `others` (one or more takes of the same part), as reasons."""
    if not others:
        return []
    need = max(1, (len(others) + 1) // 2)  # a majority of the others (with one other: that one)
    pair = len(others) == 1
    spread = _spread(others)
    limit = max(TIMING_FLOOR_S, SPREADS * spread)
    out: list[Finding] = []
    mine = this.sure()
    timed: list[float] = []  # onsets already reported late/early: a chord's strings are one attack
    changed: list[tuple[Note, list[Note]]] = []  # notes the others don't play, with what they play there
    for n in mine:
        matches = [m for o in others if (m := _match(n, o.notes)) is not None]
        if len(matches) >= need:
            there = float(np.median([m.onset_s for m in matches]))
            d = n.onset_s - there
            if any(o is not n and (o.pitch - n.pitch) % 12 == 0 and abs(o.onset_s - there) < abs(d) for o in mine):
                continue  # the note model split one note in two: the other onset is the one the takes share
            if any(abs(n.onset_s - t) < STRUM_S for t in timed):
                continue
            clear = n.velocity * n.confidence >= MIN_STRENGTH  # only a clear attack: faint onsets drift
            if clear and abs(d) > limit and (not pair or _off_grid(n.onset_s, ctx) > _off_grid(n.onset_s - d, ctx)):
                timed.append(n.onset_s)
                side = "after" if d > 0 else "before"
                out.append(
                    Finding(
                        "timing",
                        _severity((abs(d) - limit) / limit),
                        round(n.onset_s, 4),
                        round(abs(d), 4),
                        f"{name}: {_label(ctx, n.onset_s)} comes {abs(d) * 1000:.0f} ms {side} the other "
                        + ("take" if pair else "takes"),
                    )
                )
            continue
        if matches:
            continue  # some of the others play it too: a variation, not a departure
        instead = [
            m
            for o in others
            for m in o.sure()
            if abs(m.onset_s - n.onset_s) < NEIGHBOUR_S and _match(m, mine) is None and _match(m, [n]) is None
        ]
        changed.append((n, instead))
    changed += _played_instead(this, mine, others, need)
    out += _changed(changed, ctx, name, pair)
    out += _missing(this, others, ctx, name, need, pair)
    out += _buzz(this, others, ctx, name, timed)
    return sorted(out, key=lambda f: -f.severity)


def _heard(n: Note) -> bool:
    """Played, if perhaps softly: what can stand instead of another take's note."""
    return n.confidence >= FAINT_CONFIDENCE and n.velocity >= FAINT_VELOCITY


def _played_instead(this: Take, mine: list[Note], others: list[Take], need: int) -> list[tuple[Note, list[Note]]]:
    """This take's fainter notes (not `sure`) that stand where most of the others clearly play a pitch this take
    lacks: a wrong note is often played softer, or heard by the note model with less certainty (on rendered
    takes, 4 of 24 wrong notes read 0.54-0.70 confidence or 0.35-0.42 velocity, under the `sure` limits, and
    went unnoticed). Not an overtone of their note (a distorted chord's C# heard only as its twelfth, G#). With
    what the others play there."""
    out = []
    for n in this.notes:
        if n in mine or not _heard(n):
            continue
        if any(_match(n, o.notes) is not None for o in others):
            continue  # some of the others play it too
        instead = [
            m
            for o in others
            for m in o.sure()
            if abs(m.onset_s - n.onset_s) < NEIGHBOUR_S and _match(m, this.notes) is None
        ]
        if any(n.pitch - m.pitch in OVERTONES for m in instead):
            continue  # their note's overtone, heard where the note model missed the fundamental in this take
        takes = {id(o) for o in others for m in instead if m in o.notes}
        if len(takes) >= need:
            out.append((n, instead))
    return out


def _changed(changed: list[tuple[Note, list[Note]]], ctx: MusicContext, name: str, pair: bool) -> list[Finding]:
    """One reason per attack: a chord's changed strings together ("F, G, C at 1.80 s where … play E, G#, B")."""
    groups: list[list[tuple[Note, list[Note]]]] = []
    for item in sorted(changed, key=lambda c: c[0].onset_s):
        if groups and item[0].onset_s - groups[-1][0][0].onset_s < STRUM_S:
            groups[-1].append(item)
        else:
            groups.append([item])
    in_key = ctx.key.pitch_classes if ctx.key else None
    out = []
    for group in groups:
        notes = [n for n, _ in group]
        instead = sorted({m.pitch for _, alt in group for m in alt})
        outside = [n for n in notes if in_key is not None and n.pitch % 12 not in in_key]
        names = ", ".join(dict.fromkeys(n.name for n in notes))
        t = notes[0].onset_s
        if instead:
            played = ", ".join(dict.fromkeys(NAMES[p % 12] for p in instead))
            text = f"{name}: {names} at {t:.2f} s where the other " + ("take plays" if pair else "takes play")
            text += f" {played}"
        else:
            text = f"{name}: an added {names} at {t:.2f} s that the other " + (
                "take doesn't play" if pair else "takes don't play"
            )
        if outside:
            text += f" ({', '.join(dict.fromkeys(n.name for n in outside))} outside {ctx.key})"
        end = max(n.offset_s for n in notes)
        out.append(Finding("wrong_note", OUT_OF_KEY if outside else IN_KEY, round(t, 4), round(end - t, 4), text))
    return out


def _missing(this: Take, others: list[Take], ctx: MusicContext, name: str, need: int, pair: bool) -> list[Finding]:
    seen: list[Note] = []
    out = []
    for o in others:
        for q in o.sure():
            if any(s.pitch == q.pitch and abs(s.onset_s - q.onset_s) < MATCH_S for s in seen):
                continue
            seen.append(q)
            count = sum(_match(q, x.notes) is not None for x in others)
            if count < max(need, len(others) - 1) or _match(q, this.notes) is not None:
                continue
            if any(abs(m.onset_s - q.onset_s) < NEIGHBOUR_S for m in this.notes if _heard(m)):
                continue  # played, at another pitch: reported as a wrong note
            out.append(
                Finding(
                    "missing_note",
                    IN_KEY,
                    round(q.onset_s, 4),
                    round(q.offset_s - q.onset_s, 4),
                    f"{name}: the {q.name} at {q.onset_s:.2f} s"
                    + (f" ({ctx.where(q.onset_s)})" if ctx.bpm else "")
                    + " that the other "
                    + ("take plays" if pair else "takes play")
                    + " is missing",
                )
            )
    return out


@dataclass
class _Treble:
    """A take's attacks, where their treble is measured (buzz.windows) and its noise level there."""

    take: Take
    evts: list[Event]
    windows: list[tuple[float, float]]
    db: np.ndarray


def _treble(take: Take) -> _Treble:
    evts = events(take.notes)
    w = buzz_check.windows(take.mono.size / take.sr, evts, take.notes)
    return _Treble(take, evts, w, np.array([take.noise_db(a, b) for a, b in w], dtype=float))


def _same_note(t: float, theirs: list[_Treble]) -> list[tuple[_Treble, int]]:
    """The attack nearest `t` in each other take (within MATCH_S)."""
    out = []
    for tr in theirs:
        near = [i for i, x in enumerate(tr.evts) if abs(x.onset_s - t) < MATCH_S]
        if near:
            out.append((tr, min(near, key=lambda i: abs(tr.evts[i].onset_s - t))))
    return out


def _their_noise(same: list[tuple[_Treble, int]], length: float) -> list[float]:
    """The treble noise of each of the others' same note over `length` from its window's start, where measurable."""
    vals = [tr.take.noise_db(tr.windows[j][0], tr.windows[j][0] + length) for tr, j in same]
    return [v for v in vals if np.isfinite(v)]


def over_siblings(mine: _Treble, theirs: list[_Treble]) -> np.ndarray:
    """Each attack's treble noise over the same note's in the other takes (dB), all measured over the window they
    share (the shortest of theirs and its own): a take whose next attack comes later, or whose next note the note
    model missed, measures the note's longer ring, and a sibling cut short by a spurious onset its brightest
    moment only (on rendered takes clean slap and distorted notes read 20–29 dB over their siblings so, −1 to
    5 dB over the shared window); NaN where the others don't play it."""
    floor = buzz_check.MIN_S - buzz_check.START_S
    out = np.full(len(mine.evts), np.nan)
    for i, e in enumerate(mine.evts):
        start, end = mine.windows[i]
        same = [(tr, j) for tr, j in _same_note(e.onset_s, theirs) if tr.windows[j][1] - tr.windows[j][0] >= floor]
        if not same or not np.isfinite(mine.db[i]):
            continue
        length = min([end - start] + [tr.windows[j][1] - tr.windows[j][0] for tr, j in same])
        vals = _their_noise(same, length)
        if vals:
            out[i] = mine.take.noise_db(start, start + length) - float(np.median(vals))
    return out


def versus(diffs: np.ndarray) -> np.ndarray:
    """Each attack's treble over the same note's in the other takes (`over_siblings`), less the take's usual
    difference from them (its median over its notes): a take played or driven a little harder is noisier on every
    note (a distorted take whose rattle lowered the drive of all its other notes read 7–10 dB quieter on each)."""
    ok = np.isfinite(diffs)
    return diffs - float(np.median(diffs[ok])) if ok.sum() >= 3 else diffs


def at_their_attacks(this: Take, others: list[Take]) -> list[tuple[float, float]]:
    """The treble noise after each attack that at least two of the others play, measured where they have it: at
    this take's nearest note onset (within MATCH_S; none, not measured) over the window they share, cut at this
    take's next attack or clear note. A rattle can make the note model miss the buzzing note's attack or cut its
    window short with spurious onsets, so measured at its own attacks only (over_siblings) it goes unseen (on
    rendered takes 1 buzz in 12). (onset, dB over the others' median less the take's usual difference) per attack."""
    theirs = [o.treble for o in others]
    if len(theirs) < 2:
        return []
    floor = buzz_check.MIN_S - buzz_check.START_S
    onsets = np.array(sorted({n.onset_s for n in this.notes}))
    attacks: list[tuple[float, float, list[tuple[_Treble, int]]]] = []  # (this take's onset, their length, theirs)
    for t in sorted(e.onset_s for tr in theirs for e in tr.evts):
        same = [(tr, j) for tr, j in _same_note(t, theirs) if tr.windows[j][1] - tr.windows[j][0] >= floor]
        if len(same) < max(2, (len(theirs) + 1) // 2) or not onsets.size:
            continue
        there = float(np.median([tr.evts[j].onset_s for tr, j in same]))
        mine = float(onsets[np.argmin(np.abs(onsets - there))])
        if abs(mine - there) < MATCH_S and not any(abs(a - mine) < STRUM_S for a, _, _ in attacks):
            attacks.append((mine, min(tr.windows[j][1] - tr.windows[j][0] for tr, j in same), same))
    attacks.sort(key=lambda a: a[0])
    clear = [n.onset_s for n in this.sure()]
    found = []
    for i, (t, length, same) in enumerate(attacks):
        start = t + buzz_check.START_S
        later = [a for a, _, _ in attacks[i + 1 :]] + [c for c in clear if c > start + buzz_check.UNPLACED_S]
        length = min([length] + [a - 0.005 - start for a in later])
        if length < floor:
            continue
        vals = _their_noise(same, length)
        mine_db = this.noise_db(start, start + length)
        if len(vals) >= 2 and np.isfinite(mine_db):
            found.append((t, mine_db - float(np.median(vals))))
    diffs = versus(np.array([d for _, d in found]))
    return [(t, float(d)) for (t, _), d in zip(found, diffs, strict=True)]


def _buzz(this: Take, others: list[Take], ctx: MusicContext, name: str, timed: list[float]) -> list[Finding]:
    """A note noisier after its attack than the same note in the others: measured at this take's attacks (and it
    must stand out from its own other notes), and at theirs (at_their_attacks, with a higher limit); not at a note
    already called early or late (`timed`), whose window is not the others'."""
    mine = this.treble
    own = buzz_check.excess_db(mine.db)  # it must also stand out from this take's other notes
    noisy = [
        (e.onset_s, excess, BUZZ_LIMIT_DB)
        for e, excess, o in zip(mine.evts, versus(over_siblings(mine, [t.treble for t in others])), own, strict=True)
        if o > OWN_BUZZ_DB and excess > BUZZ_LIMIT_DB
    ]
    noisy += [
        (t, excess, THEIR_ATTACKS_DB)
        for t, excess in at_their_attacks(this, others)
        if excess > THEIR_ATTACKS_DB and not any(abs(t - u) < MATCH_S for u, _, _ in noisy)
    ]
    out = []
    for t, excess, limit in sorted(noisy):
        if any(abs(t - u) < MATCH_S for u in timed):
            continue
        out.append(
            Finding(
                "buzz",
                _severity((excess - limit) / 6.0),
                round(t + buzz_check.START_S, 4),
                round(buzz_check.MAX_S - buzz_check.START_S, 4),
                f"{name}: {_label(ctx, t)} buzzes or rattles (its treble is {excess:.0f} dB "
                "noisier after the attack than in the other " + ("take" if len(others) == 1 else "takes") + ")",
            )
        )
    return out


def not_shared(found: list[Finding], this: Take, others: list[Take]) -> list[Finding]:
    """Of the take's own timing and buzz findings (against the grid, its own bars, its own other notes), those its
    sibling takes don't share: a note most of them play at the same place (within the takes' own spread) is where
    the part has it, and a note as noisy in them is the part's sound. What is left adds to the comparison what it
    cannot match note for note (a note transcribed at another octave, a faint one in a sibling)."""
    theirs = [o.treble for o in others]
    limit = max(TIMING_FLOOR_S, SPREADS * _spread(others))
    need = max(1, (len(others) + 1) // 2)
    mine = this.treble
    vs = versus(over_siblings(mine, theirs))
    out = []
    for f in found:
        if f.kind == "timing":
            onsets = [tr.evts[j].onset_s for tr, j in _same_note(f.start_s, theirs)]
            if sum(abs(t - f.start_s) <= limit for t in onsets) >= need:
                continue
        elif f.kind == "buzz":
            t = f.start_s - buzz_check.START_S
            i = int(np.argmin([abs(e.onset_s - t) for e in mine.evts])) if mine.evts else -1
            if i < 0 or vs[i] <= SHARED_DB:  # NaN (the others don't play it) keeps it
                continue
        out.append(f)
    return out


def compare_takes(takes: list[Take], ctx: MusicContext, first: str = "take 1") -> list[Comparison]:
    """Each take against all the others, scored and ranked (rank 1 = tightest). The reasons call the first take
    `first` (a new take judged against its siblings: "this take") and the others "take 2", "take 3", …"""
    rows = []
    for i, t in enumerate(takes):
        found = departures(t, takes[:i] + takes[i + 1 :], ctx, first if i == 0 else f"take {i + 1}")
        score = round(sum(f.severity for f in found if f.severity >= 0.3), 3)
        rows.append(Comparison(t.path, found, score, any(f.severity >= FLAG_SEVERITY for f in found)))
    for rank, row in enumerate(sorted(rows, key=lambda r: r.score), start=1):
        row.rank = rank
    return rows


__all__ = [
    "Comparison",
    "Take",
    "at_their_attacks",
    "compare_takes",
    "departures",
    "not_shared",
    "over_siblings",
    "versus",
]
