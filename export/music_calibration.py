"""What the musical checks learn from a library at `fit`: its groove, the notes it plays in its keys, how noisy its
treble is after an attack. Stored in the bundle as calibration["music"] (beside the technical checks' quantiles);
bridge/music reads it (Groove.from_calibration, wrong_notes' degree profile per scale, buzz_limit_db,
key_profiles).

Each loop's context comes from its name or is estimated, as when scoring. The limits take their share of `fit`'s
false-flag budget: the musical checks may flag at most MUSIC_SHARE of it among the library's own loops, split
between timing and buzz (each at the library's 1 − budget × MUSIC_SHARE / 2 quantile of its worst note per loop,
judged on the notes the checks judge), within physical bounds: a groove never excuses more than 70 ms, buzz's
limit stays between the built-in one and 40 dB, and within a few robust spreads of the loops' median worst note
(_buzz_limit: one loop's odd note cannot set it): a library can raise it (overdriven guitars), not lower it (a clean take's
plainest and brightest notes differ by up to ~25 dB; a library of three dozen loops that happens to hold none such
learned 11 dB and flagged them in held-out takes). Wrong notes need no quantile: the library's degree profile says what it plays.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from tqdm import tqdm

from loopbridge import audio
from loopbridge.bundle import DEFAULT_FALSE_FLAGS
from loopbridge.errors import LoopbridgeError
from loopbridge.music import buzz, mono_of, timing
from loopbridge.music.context import resolve
from loopbridge.music.model import NoteModelMissing
from loopbridge.music.notes import transcribe

log = logging.getLogger("loopbridge")
VERSION = 1
MIN_LOOPS = 8
FLOOR_BOUNDS_S = (0.02, 0.07)
MUSIC_SHARE = 0.5  # the most of the false-flag budget the musical checks may use on the library's own loops
BUZZ_BOUNDS_DB = (buzz.DEFAULT_LIMIT_DB, 40.0)
SPREADS_DB = 3.0
# Transcribing costs about 0.2 s per loop on 2 cores; a groove, a key profile and a buzz quantile settle well within
# this many loops, so a large library is sampled (reproducibly) rather than making `fit` wait a minute or more.
MAX_LOOPS = 96


def calibrate(
    files: list[str], progress: bool = True, false_flags: float = DEFAULT_FALSE_FLAGS
) -> dict[str, Any] | None:
    """The library's musical calibration (None when the note model is missing or too few loops sound)."""
    q = 1.0 - false_flags * MUSIC_SHARE / 2
    offsets: list[list[float]] = [[] for _ in range(timing.POSITIONS)]
    worst_dev: list[float] = []
    swung: list[bool] = []
    worst_buzz: list[float] = []
    degrees: dict[str, np.ndarray] = {}
    profiles: dict[str, list[np.ndarray]] = {"major": [], "minor": []}
    n = 0
    try:
        for f in tqdm(files, desc="learning the groove", unit="file", disable=not progress, leave=False):
            try:
                native = audio.read_native(f)
            except LoopbridgeError:
                continue
            mono = mono_of(native)
            notes = transcribe(mono, native.sample_rate)
            if len(notes) < 3:
                continue
            n += 1
            ctx = resolve(None, f, notes, mono, native.sample_rate)
            evts = timing.events(notes)
            if ctx.bpm and evts:
                dev, _, _ = timing.deviations(evts, ctx.bpm, timing.Groove(floor_s=0.0))
                off, pos = timing.grid_offsets(np.array([e.onset_s for e in evts]), ctx.bpm)
                step = 60.0 / ctx.bpm / timing.POSITIONS
                for p, o in zip(pos, off, strict=True):
                    offsets[p].append(float(o))
                feel = timing.swings(evts, ctx.bpm)
                if feel is not None:
                    swung.append(feel)
                judged = np.array([e.strength >= timing.MIN_STRENGTH for e in evts])
                inside = (np.abs(dev) < 0.5 * step) & judged
                if inside.any():
                    worst_dev.append(float(np.abs(dev[inside]).max()))
            ex = buzz.excess_db(buzz.treble_noise_db(mono, native.sample_rate, evts, notes))
            ex[[e.strength < buzz.MIN_STRENGTH for e in evts]] = np.nan
            if np.isfinite(ex).any():
                worst_buzz.append(float(np.nanmax(ex)))
            if ctx.key is not None:
                h = np.zeros(12)
                for note in notes:
                    h[(note.pitch - ctx.key.root) % 12] += max(note.offset_s - note.onset_s, 0.05) * note.velocity
                degrees[ctx.key.scale] = degrees.get(ctx.key.scale, np.zeros(12)) + h
                if ctx.key_from == "name" and ctx.key.scale in profiles and h.sum() > 0:
                    profiles[ctx.key.scale].append(h / h.sum())
    except NoteModelMissing as exc:
        log.warning("note: musical checks not calibrated: %s", exc.message)
        return None
    if n < MIN_LOOPS:
        return None
    return {
        "version": VERSION,
        "n": n,
        "false_flags": round(false_flags * MUSIC_SHARE, 4),
        "groove": _groove(offsets, worst_dev, swung, q),
        "degree_profiles": {s: [round(float(d), 4) for d in h / max(h.sum(), 1e-9)] for s, h in degrees.items()},
        "key_profiles": {s: [round(float(v), 4) for v in np.mean(p, axis=0)] for s, p in profiles.items() if p} or None,
        "buzz_limit_db": _buzz_limit(worst_buzz, q),
    }


def _buzz_limit(worst: list[float], q: float) -> float:
    """The library's worst note per loop at quantile `q`, capped at SPREADS_DB robust spreads above their median: a
    quantile this high over a few dozen loops is their worst one, and one loop with an odd note (a fold of rendered
    clean loops learnt 27.7 dB from one slap loop, the others' worst 10-24 dB, and missed buzz in held-out takes)
    must not set the limit; a library noisy on every loop still raises it."""
    if len(worst) < MIN_LOOPS:
        return buzz.DEFAULT_LIMIT_DB
    w = np.asarray(worst)
    med = float(np.median(w))
    cap = med + SPREADS_DB * 1.4826 * float(np.median(np.abs(w - med)))
    return round(float(np.clip(min(float(np.quantile(w, q)), cap) + 1.0, *BUZZ_BOUNDS_DB)), 2)


def _groove(offsets: list[list[float]], worst_dev: list[float], swung: list[bool], q: float) -> dict[str, Any]:
    """Per position: median offset and robust spread (MAD); the floor: the library's worst deviation per take at
    quantile `q`; the share of swung loops among those whose off-beats show their feel (None: too few do)."""
    default = timing.Groove()
    out: dict[str, Any] = {"offset_s": [], "spread_s": []}
    for p, vals in enumerate(offsets):
        v = np.array(vals)
        if v.size >= 10:
            med = float(np.median(v))
            out["offset_s"].append(round(med, 4))
            out["spread_s"].append(round(max(0.003, 1.4826 * float(np.median(np.abs(v - med)))), 4))
        else:
            out["offset_s"].append(default.offset_s[p])
            out["spread_s"].append(default.spread_s[p])
    floor = np.quantile(worst_dev, q) + 0.004 if len(worst_dev) >= MIN_LOOPS else default.floor_s
    out["floor_s"] = round(float(np.clip(floor, *FLOOR_BOUNDS_S)), 4)
    out["swung_share"] = round(float(np.mean(swung)), 3) if len(swung) >= MIN_LOOPS else None
    return out


def with_music(
    calibration: dict[str, Any] | None,
    files: list[str],
    progress: bool = True,
    false_flags: float = DEFAULT_FALSE_FLAGS,
    seed: int = 0,
) -> dict[str, Any] | None:
    """The technical checks' calibration with the musical one added under "music" (unchanged when none), learned on
    at most MAX_LOOPS of the files, drawn with `seed`."""
    if len(files) > MAX_LOOPS:
        picked = np.random.default_rng(seed).choice(len(files), MAX_LOOPS, replace=False)
        files = [files[i] for i in sorted(picked)]
    music = calibrate(files, progress, false_flags)
    if music is None:
        return calibration
    return {**(calibration or {}), "music": music}


__all__ = ["calibrate", "with_music"]
