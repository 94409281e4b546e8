"""Where a take stands among its sibling takes (the OSC `compare` reply): bridge/music/compare.py's ranking of
the take and its siblings, each against all the others, with the take's first departure in words."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..audio import NativeAudio, read_native
from ..errors import LoopbridgeError
from ..results import Standing

log = logging.getLogger("loopbridge")

LENGTH_TOLERANCE = 0.05  # siblings of another length are left out, as bridge/music.judge leaves them out
TIGHTEST = "tightest so far"


def standing(native: NativeAudio, report, siblings: Sequence[str]) -> Standing | None:
    """The take's rank among itself and the siblings of its length (rank 1 = tightest; a tie goes to the take),
    its comparison score and its first flagged departure. `report` is its music.MusicReport (notes, context).
    None when no sibling could be compared."""
    from .. import music
    from ..music import compare

    others = []
    for path in siblings:
        try:
            sibling = read_native(path)
        except LoopbridgeError as exc:
            log.warning("sibling take skipped: %s", exc.message)
            continue
        if abs(sibling.duration_s - native.duration_s) <= LENGTH_TOLERANCE * native.duration_s:
            others.append(music.sibling_take(sibling))
    if not others:
        return None
    this = compare.Take(native.path, report.notes, music.mono_of(native), native.sample_rate)
    rows = compare.compare_takes([this, *others], report.context)
    mine = rows[0]
    departures = sorted((f for f in mine.findings if f.severity >= compare.FLAG_SEVERITY), key=lambda f: f.start_s)
    first = departures[0] if departures else None
    said = first.message.split(": ", 1)[-1] if first else ""  # without the comparison's "take 1: "
    return Standing(
        rank=mine.rank,
        of=len(rows),
        score=mine.score,
        kind=first.kind if first else "none",
        departs_s=first.start_s if first else -1.0,
        message=TIGHTEST if mine.rank == 1 else said or f"ranked {mine.rank} of {len(rows)}: it varies the part",
    )
