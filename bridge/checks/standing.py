"""Where a take stands among its sibling takes (the OSC `compare` reply), read from bridge/music's one comparison
of the take and its siblings (MusicReport.ranking): its rank, with its first departure in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..results import Standing

if TYPE_CHECKING:
    from ..music import MusicReport

TIGHTEST = "tightest so far"


def standing(report: MusicReport) -> Standing | None:
    """The take's rank among itself and the siblings compared (rank 1 = tightest; a tie goes to the take), its
    comparison score and its first flagged departure. None when no sibling was compared."""
    from ..music.compare import FLAG_SEVERITY

    if not report.ranking:
        return None
    mine = report.ranking[0]
    of = len(report.ranking)
    departures = sorted((f for f in mine.findings if f.severity >= FLAG_SEVERITY), key=lambda f: f.start_s)
    first = departures[0] if departures else None
    said = first.message.split(": ", 1)[-1] if first else ""  # without the comparison's "this take: "
    return Standing(
        rank=mine.rank,
        of=of,
        score=mine.score,
        kind=first.kind if first else "none",
        departs_s=first.start_s if first else -1.0,
        message=TIGHTEST if mine.rank == 1 else said or f"ranked {mine.rank} of {of}: it varies the part",
    )
