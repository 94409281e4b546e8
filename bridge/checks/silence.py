"""Silence: nothing, or nothing but a noise floor, was recorded (an input not armed, the wrong input, gain at zero).

Such a take is reported on its own: the other checks would only describe the converter's noise floor.
"""

from __future__ import annotations

from ..audio import SILENCE_PEAK
from ..results import Finding
from .take import Take, db

NEAR_SILENT_DB = -60.0  # far below any played note (the "very quiet" level rule fires from -30 dBFS peaks)


def finding(take: Take) -> Finding | None:
    """A `silence` finding when the take's loudest sample is below NEAR_SILENT_DB, else None."""
    peak = take.peak
    if peak >= 10 ** (NEAR_SILENT_DB / 20):
        return None
    whole = round(take.native.duration_s, 4)
    if peak < SILENCE_PEAK:
        return Finding(
            "silence", 1.0, 0.0, whole, "silent take: nothing was recorded; check that the input is armed and routed"
        )
    return Finding(
        "silence",
        0.9,
        0.0,
        whole,
        f"nearly silent: the loudest moment is {float(db(peak)):.0f} dBFS, only a noise floor; "
        "check the input, its routing and gain",
    )
