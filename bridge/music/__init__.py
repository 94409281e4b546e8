"""Musical checks: what a musician calls a bad take (a late note, a note out of key, a buzzing string).

    transcribe(audio) -> notes (Basic Pitch in ONNX Runtime, see model.py)
    resolve(context, path, notes, audio) -> MusicContext (request/cli > file name > estimate; says which)
    timing / wrong_notes / buzz .findings(...) -> reasons like the technical checks'
    compare.compare_takes([...]) -> where takes of one part depart from each other, ranked (siblings, `compare`)

`analyse()` runs them on one take; calibration (learned at `fit`, see export/music_calibration.py) holds the
library's groove, key profile and buzz limit; without it built-in defaults apply (DEFAULTS_NOTICE).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np

from ..audio import NativeAudio
from ..checks.take import tempo_from_name
from ..context import TakeContext
from ..results import Finding
from . import buzz, timing, wrong_notes
from .context import MusicContext, key_from_name, resolve
from .model import NoteModelMissing
from .notes import Note, transcribe

if TYPE_CHECKING:
    from .compare import Comparison

log = logging.getLogger("loopbridge")

LENGTH_TOLERANCE = 0.05  # a sibling more than this share longer or shorter than the take is not compared
KINDS = ("timing", "wrong_note", "missing_note", "buzz")
SAME_S = 0.1  # a take's own finding this close to the comparison's of its kind is the same note, said once
DEFAULTS_NOTICE = (
    "musical checks use built-in limits (no calibrated model given); fit a model on your own takes so the "
    "groove, the keys' usual notes and the usual treble after an attack are your library's"
)


@dataclass
class MusicReport:
    """One take's notes, the context they were judged in, and what was found. When sibling takes were compared,
    `ranking` is the one comparison of the take (first) and its siblings, each against all the others: the
    take's reasons are its row's, and its rank among them is the OSC `compare` reply (bridge/checks/standing.py)."""

    context: MusicContext
    notes: list[Note]
    findings: list[Finding] = field(default_factory=list)
    ranking: list[Comparison] | None = None


def mono_of(native: NativeAudio) -> np.ndarray:
    """The channels' mean, at the file's rate."""
    x = native.samples
    return x[:, 0].copy() if x.shape[1] == 1 else x.mean(axis=1).astype(np.float32)


def analyse(
    native: NativeAudio,
    given: TakeContext | None = None,
    calibration: dict | None = None,
    siblings: list[NativeAudio] | None = None,
    estimate: bool = False,
) -> MusicReport:
    """Notes, context and musical findings for one take: against the grid, key and its own notes, or, given
    sibling takes of the part, against those. Only with `estimate` (`--musical`) is an estimated tempo or key
    judged against; otherwise the report's context says it is unknown."""
    from . import compare

    cal = calibration or {}
    mono = mono_of(native)
    notes = transcribe(mono, native.sample_rate)
    ctx = resolve(given, native.path, notes, mono, native.sample_rate, cal.get("key_profiles"))
    if not estimate:
        ctx = ctx.known()
    profiles = cal.get("degree_profiles") or {}
    evts = timing.events(notes)
    limit_db = float(cal.get("buzz_limit_db", buzz.DEFAULT_LIMIT_DB))
    this = compare.Take(native.path, notes, mono, native.sample_rate)
    levels = this.treble.db if siblings else None  # measured once, for the comparison and for its own notes
    own = timing.findings(notes, ctx, timing.Groove.from_calibration(cal)) + buzz.findings(
        mono, native.sample_rate, evts, ctx, limit_db, notes, levels
    )
    if siblings:
        # Earlier takes of the part are the better judge of its notes: what this take does that they don't,
        # instead of the key (an out-of-key note all takes play is the part's). Only what the comparison flags
        # counts (an in-key variation is not a fault). The take's own timing and buzz findings join it where the
        # siblings don't share them (benchmarks/musical.py: the comparison alone missed a slip or buzz in 1 of
        # 4-5 takes that the grid, the take's own bars or its own other notes showed). The siblings are
        # compared with each other too, once, so the take's rank among them comes from the same comparison.
        others = [sibling_take(s) for s in siblings]
        ranking = compare.compare_takes([this, *others], ctx, "this take")
        found = [f for f in ranking[0].findings if f.severity >= compare.FLAG_SEVERITY]
        found += [
            f
            for f in compare.not_shared(own, this, others)
            if not any(g.kind == f.kind and abs(g.start_s - f.start_s) < SAME_S for g in found)
        ]
        return MusicReport(ctx, notes, found, ranking)
    found = own + wrong_notes.findings(notes, ctx, profiles)
    return MusicReport(ctx, notes, found)


_SIBLINGS: OrderedDict[tuple[str, int, int, int], object] = OrderedDict()
_SIBLINGS_LOCK = Lock()


def sibling_take(native: NativeAudio):
    """A sibling's notes, transcribed once per file version (the device sends the same earlier takes again)."""
    from . import compare

    try:
        st = os.stat(native.path)
        key = (native.path, st.st_mtime_ns, st.st_size, native.samples.shape[0])
    except OSError:
        key = (native.path, 0, 0, native.samples.shape[0])
    with _SIBLINGS_LOCK:
        if key in _SIBLINGS:
            _SIBLINGS.move_to_end(key)
            return _SIBLINGS[key]
    mono = mono_of(native)
    take = compare.Take(native.path, transcribe(mono, native.sample_rate), mono, native.sample_rate)
    with _SIBLINGS_LOCK:
        _SIBLINGS[key] = take
        while len(_SIBLINGS) > 64:
            _SIBLINGS.popitem(last=False)
    return take


def wanted(native: NativeAudio, context: TakeContext | None) -> bool:
    """Run the musical checks when something musical is known: the caller's tempo, key or siblings, or the name's."""
    if context is not None and (context.bpm or context.key or context.siblings):
        return True
    return tempo_from_name(native.path) is not None or key_from_name(native.path) is not None


_warned: set[str] = set()


def judge(
    native: NativeAudio, context: TakeContext | None, calibration: dict | None, estimate: bool = False
) -> MusicReport | None:
    """The musical checks as part of a take's checks: None when nothing musical is known (and `estimate` is off)
    or the note model is not installed (said once per process)."""
    if not (estimate or wanted(native, context)):
        return None
    try:
        siblings = [_read_sibling(p) for p in (context.siblings if context else ())]
        # takes of one part have one length; a sibling that is not (a whole loop-recording file, where only a
        # region is the take) would be compared note for note with something else
        same = [
            s
            for s in siblings
            if s is not None and abs(s.duration_s - native.duration_s) <= LENGTH_TOLERANCE * native.duration_s
        ]
        if len(same) < len([s for s in siblings if s is not None]):
            log.info("note: sibling takes of another length than the take were left out of the comparison")
        return analyse(native, context, calibration, same, estimate)
    except NoteModelMissing as exc:
        if "model" not in _warned:
            _warned.add("model")
            log.warning("note: musical checks skipped: %s", exc.message)
        return None


def _read_sibling(path: str) -> NativeAudio | None:
    from ..audio import read_native
    from ..errors import LoopbridgeError

    try:
        return read_native(path)
    except LoopbridgeError as exc:
        log.warning("sibling take skipped: %s", exc.message)
        return None


__all__ = [
    "DEFAULTS_NOTICE",
    "KINDS",
    "LENGTH_TOLERANCE",
    "MusicContext",
    "MusicReport",
    "Note",
    "analyse",
    "judge",
    "resolve",
    "transcribe",
    "wanted",
]
