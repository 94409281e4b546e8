"""`wrong_note`: a clearly played note outside the key's scale, or one the library rarely plays in its key.

The library's profile (learned at `fit`): how often each pitch class, counted from the key's root, sounds in
the library's takes. A scale degree the library uses often (a blue note, a borrowed chord tone) is not wrong
there; one it never plays is, even inside the scale only if the library says so (rare < RARE).
"""

from __future__ import annotations

import numpy as np

from ..results import Finding
from .context import MusicContext
from .notes import Note

RARE = 0.01  # a degree holding under 1 % of the library's notes in its key is rare
MIN_CONFIDENCE = 0.6
MIN_DURATION_S = 0.06
MIN_VELOCITY = 0.38
STRUM_S = 0.045  # notes struck together


def allowed_degrees(profile: list[float] | None, scale_degrees: frozenset[int]) -> frozenset[int]:
    """Degrees (0 = the root) a take may play: the scale's, plus what the library plays often enough."""
    if not profile:
        return scale_degrees
    common = {d for d, share in enumerate(profile) if share >= RARE}
    return frozenset(scale_degrees | common)


def _power_chord_fifth(n: Note, notes: list[Note], scale_degrees: frozenset[int], root: int) -> bool:
    """A fifth stacked on an in-key root struck with it: a power chord's shape (on the 7th degree the fifth falls
    outside the scale; the player chose the shape, the root names the chord). A wrong root is still caught."""
    struck = [m for m in notes if abs(m.onset_s - n.onset_s) < STRUM_S]
    if len({m.pitch % 12 for m in struck}) != 2:  # a triad's wrong string sits among three pitch classes
        return False
    # pitch classes: the note model now and then hears the fifth an octave low
    return any((n.pitch - m.pitch) % 12 == 7 and (m.pitch - root) % 12 in scale_degrees for m in struck)


def findings(notes: list[Note], ctx: MusicContext, profile: list[float] | None = None) -> list[Finding]:
    """One finding per clearly played out-of-key note (a wrong note repeated through a chord is one each)."""
    if ctx.key is None:
        return []
    key = ctx.key
    scale_degrees = frozenset((pc - key.root) % 12 for pc in key.pitch_classes)
    ok = allowed_degrees(profile, scale_degrees)
    out = []
    for n in notes:
        if (n.pitch - key.root) % 12 in ok:
            continue
        if n.confidence < MIN_CONFIDENCE or n.velocity < MIN_VELOCITY or n.offset_s - n.onset_s < MIN_DURATION_S:
            continue
        if _power_chord_fifth(n, notes, scale_degrees, key.root):
            continue
        weight = n.velocity * min(1.0, (n.offset_s - n.onset_s) / 0.25)
        severity = round(float(1.0 - 0.7 * np.exp(-3.0 * weight)), 3)
        where = ctx.where(n.onset_s)
        out.append(
            Finding(
                "wrong_note",
                severity,
                round(n.onset_s, 4),
                round(n.offset_s - n.onset_s, 4),
                f"{n.name} at {n.onset_s:.2f} s" + (f" ({where})" if where else "") + f" is outside {key}",
            )
        )
    return out
