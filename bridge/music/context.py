"""The musical context a take is judged in (tempo, meter, key) and where each part of it came from.

Order of trust: what the caller gave (OSC request or command line), then the file's name as sample packs
write it ("bass_124bpm_Gm.wav", "Guitar 90 BPM A minor.wav", "lead_Fsharp_maj_120.wav"), then an estimate
from the take itself (tempo from the loop's length and librosa's beat tracker, key from its notes against the
library's pitch-class profile). The grid starts at the take's first sample: takes start on the downbeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..checks.take import tempo_from_name
from ..context import TakeContext
from ..errors import LoopbridgeError
from .notes import NAMES, Note

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
}
_SCALE_WORDS = {
    "major": "major",
    "maj": "major",
    "ionian": "major",
    "minor": "minor",
    "min": "minor",
    "aeolian": "minor",
    "m": "minor",
    **{s: s for s in SCALES},
    "harmonic": "harmonic minor",
    "melodic": "melodic minor",
}
_ROOTS = {n.lower(): i for i, n in enumerate(NAMES)} | {
    "db": 1,
    "eb": 3,
    "gb": 6,
    "ab": 8,
    "bb": 10,
    "cb": 11,
    "fb": 4,
    "e#": 5,
    "b#": 0,
}
# a key as a word: root letter, accidental (#, b, sharp, flat, s), then the scale word, or an "m" glued on
_KEY_IN_NAME = re.compile(
    r"(?:^|[\s_\-.(\[])([A-Ga-g])(#|b|sharp|flat|s)?[\s_\-]?"
    r"(harmonic[\s_\-]?minor|melodic[\s_\-]?minor|major|minor|maj|min|dorian|phrygian|lydian|mixolydian|"
    r"aeolian|ionian|locrian|m)?(?=$|[\s_\-.)\]\d])",
    re.IGNORECASE,
)


class ContextError(LoopbridgeError):
    """A tempo, key or meter the caller gave cannot be understood."""


@dataclass(frozen=True)
class Key:
    root: int  # pitch class, 0 = C
    scale: str  # a SCALES name

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in SCALES[self.scale])

    def __str__(self) -> str:
        return f"{NAMES[self.root]} {self.scale}"


def parse_key(text: str) -> Key:
    """ "G minor", "Gm", "F# major", "Fsharp_maj", "Bb dorian", "A" (major) -> Key; ContextError otherwise."""
    t = re.sub(r"[\s_\-]+", " ", text.strip()).lower()
    m = re.fullmatch(r"([a-g])\s?(#|b|sharp|flat|s)?\s?(.*)", t)
    if not m:
        raise ContextError(f"key {text!r} is not a key like 'G minor', 'F# major' or 'Bbm'", "bad_key")
    acc = {"sharp": "#", "s": "#", "flat": "b"}.get(m.group(2) or "", m.group(2) or "")
    root = _ROOTS.get(m.group(1) + acc)
    word = re.sub(r"\s+", " ", m.group(3).strip())
    scale = _SCALE_WORDS.get(word or "major") or _SCALE_WORDS.get(word.replace(" ", ""))
    if root is None or scale is None:
        raise ContextError(
            f"key {text!r} is not a key like 'G minor', 'F# major' or 'Bbm' (scales: {', '.join(SCALES)})", "bad_key"
        )
    return Key(root, scale)


def key_from_name(path: str) -> Key | None:
    """The key a sample pack writes into a loop's name, if it names one with a scale ("Gm", "A minor", "F#maj")."""
    stem = Path(path).stem
    for m in _KEY_IN_NAME.finditer(stem):
        letter, acc, word = m.group(1), m.group(2), m.group(3)
        if word is None and (acc is None or acc.lower() in ("b", "s")):
            continue  # a bare letter ("bass_A_take") or "Bb"/"As" alone is too weak to be a key
        if word is not None and word.lower() == "m" and letter.islower() and not acc:
            continue  # "am" in the middle of a word like "_am_" is ambiguous; sample packs capitalise
        try:
            return parse_key(f"{letter}{acc or ''} {word or 'major'}")
        except ContextError:
            continue
    return None


def parse_meter(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) not in (1, 2, 4, 8, 16):
        raise ContextError(f"meter {text!r} is not like '4/4' or '6/8'", "bad_meter")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class MusicContext:
    """What a take was judged against; each *_from is "request", "cli", "name", "estimate" or "default"."""

    bpm: float | None
    bpm_from: str
    key: Key | None
    key_from: str
    meter: tuple[int, int] = (4, 4)
    meter_from: str = "default"
    # besides an estimated key, the others the take's notes allow (keys_holding): one short take's estimate is
    # often a neighbouring key, so a note is wrong only outside all of them (wrong_notes.findings); () if known
    key_alternatives: tuple[Key, ...] = ()

    def where(self, t: float) -> str:
        """ "bar 2, beat 3" for a time in seconds (bars and beats counted from 1), or "" without a tempo."""
        if not self.bpm:
            return ""
        beat = 60.0 / self.bpm * 4.0 / self.meter[1]
        index = int(np.floor(t / beat + 0.5))
        bar, b = divmod(max(index, 0), self.meter[0])
        return f"bar {bar + 1}, beat {b + 1}"

    def known(self) -> MusicContext:
        """Without what was only estimated: the default decision judges against known tempo and key alone (an
        estimate from one short take is often a neighbouring key or a related tempo; `--musical` uses it)."""
        drop_bpm, drop_key = self.bpm_from == "estimate", self.key_from == "estimate"
        return replace(
            self,
            bpm=None if drop_bpm else self.bpm,
            bpm_from="unknown" if drop_bpm else self.bpm_from,
            key=None if drop_key else self.key,
            key_from="unknown" if drop_key else self.key_from,
            key_alternatives=() if drop_key else self.key_alternatives,
        )

    def as_dict(self) -> dict:
        return {
            "bpm": None if self.bpm is None else round(self.bpm, 2),
            "bpm_from": self.bpm_from,
            "key": None if self.key is None else str(self.key),
            "key_from": self.key_from,
            "meter": f"{self.meter[0]}/{self.meter[1]}",
            "meter_from": self.meter_from,
        }

    def describe(self) -> str:
        tempo = f"{self.bpm:g} BPM ({self.bpm_from})" if self.bpm else "tempo unknown"
        key = f"{self.key} ({self.key_from})" if self.key else "key unknown"
        return f"{tempo}, {key}, {self.meter[0]}/{self.meter[1]} ({self.meter_from})"


# Krumhansl–Kessler probe-tone profiles: the default pitch-class profile before a library teaches its own.
_KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
DEFAULT_PROFILES = {"major": _KK_MAJOR, "minor": _KK_MINOR}
SURE = 0.6  # the note model's confidence above which a note counts as played
MIN_VELOCITY = 0.38  # clearly played: loud and long enough to be meant (not a harmonic or a ghost)
MIN_DURATION_S = 0.06
STRUM_S = 0.045  # onsets closer than this are struck together (a strum, a chord): one attack


def pitch_class_histogram(notes: list[Note]) -> np.ndarray:
    """Duration × velocity per pitch class, summing to 1 (zeros when there are no notes)."""
    h = np.zeros(12)
    for n in notes:
        h[n.pitch % 12] += max(n.offset_s - n.onset_s, 0.05) * n.velocity
    return h / h.sum() if h.sum() > 0 else h


def estimate_key(notes: list[Note], profiles: dict[str, tuple[float, ...]] | None = None) -> Key | None:
    """The key whose profile (rotated to each root) correlates best with the take's pitch classes."""
    h = pitch_class_histogram(notes)
    if np.count_nonzero(h) < 3:
        return None
    best: tuple[float, Key] | None = None
    for scale, profile in (profiles or DEFAULT_PROFILES).items():
        p = np.asarray(profile, float)
        for root in range(12):
            r = float(np.corrcoef(h, np.roll(p, root))[0, 1])
            if best is None or r > best[0]:
                best = (r, Key(root, scale))
    return None if best is None else best[1]


def clearly_played(n: Note) -> bool:
    """Sure, loud and long enough to be a note the player meant."""
    return n.confidence >= SURE and n.velocity >= MIN_VELOCITY and n.offset_s - n.onset_s >= MIN_DURATION_S


def attacks(notes: list[Note], pitch_class: int) -> int:
    """How many times the take clearly strikes a pitch class (notes struck together count once)."""
    onsets = sorted(n.onset_s for n in notes if n.pitch % 12 == pitch_class and clearly_played(n))
    return sum(1 for i, t in enumerate(onsets) if i == 0 or t - onsets[i - 1] >= STRUM_S)


def keys_holding(notes: list[Note]) -> list[Key]:
    """The major and minor keys holding every pitch class the take comes back to (struck at 2+ attacks): with
    only the take to go by, each of them may be the song's ([] when none does: a chromatic part)."""
    recurring = {pc for pc in range(12) if attacks(notes, pc) >= 2}
    return [k for scale in ("major", "minor") for r in range(12) if recurring <= (k := Key(r, scale)).pitch_classes]


def estimate_bpm(
    mono: np.ndarray, sr: int, meter: tuple[int, int] = (4, 4), onsets: list[float] | None = None
) -> float | None:
    """A loop is 1, 2, 4, 8 … bars long: of the tempos that allows (60–200 BPM), the one whose sixteenth grid the
    take's onsets fit best; without onsets, the one nearest librosa's beat tracker (folded by octaves)."""
    duration = mono.size / sr
    if duration < 1.0:
        return None
    beats_per_bar = meter[0] * 4.0 / meter[1]
    candidates = [60.0 * bars * beats_per_bar / duration for bars in (1, 2, 4, 8, 16, 32, 64)]
    candidates = [c for c in candidates if 60.0 <= c <= 200.0]
    if onsets is not None and len(onsets) >= 4 and candidates:
        t = np.asarray(onsets)

        def misfit(bpm: float) -> float:
            step = 60.0 / bpm / 4
            return float(np.mean(np.abs(t / step - np.round(t / step))))

        return min(candidates, key=misfit)
    import librosa

    tracked = float(np.atleast_1d(librosa.beat.beat_track(y=mono, sr=sr, units="time")[0])[0])
    if not candidates:
        return tracked or None
    if not tracked:
        return min(candidates, key=lambda c: abs(c - 120.0))
    # octave errors of the tracker (double/half time) are common: compare on a log scale, folded by 2
    return min(candidates, key=lambda c: min(abs(np.log2(c / tracked) - k) for k in (-1, 0, 1)))


def resolve(
    given: TakeContext | None,
    path: str,
    notes: list[Note] | None = None,
    mono: np.ndarray | None = None,
    sr: int = 0,
    profiles: dict[str, tuple[float, ...]] | None = None,
) -> MusicContext:
    """The context for one take: given (request/cli) > file name > estimate from notes and audio."""
    given = given or TakeContext(source="none")
    source = given.source if given.source in ("request", "cli") else "request"
    meter, meter_from = ((4, 4), "default")
    bpm: float | None
    if given.meter:
        meter, meter_from = parse_meter(given.meter), source
    if given.bpm:
        bpm, bpm_from = float(given.bpm), source
    elif (named := tempo_from_name(path)) is not None:
        bpm, bpm_from = named, "name"
    elif mono is not None and sr:
        onsets = sorted({round(n.onset_s, 3) for n in notes if n.placed and n.confidence >= SURE}) if notes else None
        bpm, bpm_from = estimate_bpm(mono, sr, meter, onsets), "estimate"
    else:
        bpm, bpm_from = None, "unknown"
    key: Key | None
    alternatives: tuple[Key, ...] = ()
    if given.key:
        key, key_from = parse_key(given.key), source
    elif (named_key := key_from_name(path)) is not None:
        key, key_from = named_key, "name"
    elif notes and (key := estimate_key(notes, profiles)) is not None:
        key_from, alternatives = "estimate", tuple(k for k in keys_holding(notes) if k != key)
    else:
        key, key_from = None, "unknown"
    if bpm is None:
        bpm_from = "unknown"
    if key is None:
        key_from = "unknown"
    return MusicContext(bpm, bpm_from, key, key_from, meter, meter_from, alternatives)
