"""`wrong_note`: a clearly played note outside the key's scale, or one the library rarely plays in its key.

The library's profile (learned at `fit`): how often each pitch class, counted from the key's root, sounds in
the library's takes. A scale degree the library uses often (a blue note, a borrowed chord tone) is not wrong
there; one it never plays is, even inside the scale only if the library says so (rare < RARE).

A key only estimated from the take (`--musical`) is often a neighbouring key: there a note is wrong only outside
every key that holds the pitch classes the take comes back to (MusicContext.key_alternatives) and struck at one
attack only (a pitch class the part comes back to is the part's, not a slip).
"""

from __future__ import annotations

import numpy as np

from ..results import Finding
from .context import STRUM_S, Key, MusicContext, attacks, clearly_played
from .notes import Note

RARE = 0.01  # a degree holding under 1 % of the library's notes in its key is rare


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
    # the fifth's own third harmonic (a twelfth up), weaker than it, is its overtone: distortion brings it out
    heard = {m.pitch % 12 for m in struck if not ((m.pitch - n.pitch) % 12 == 7 and m.velocity < n.velocity)}
    if len(heard) != 2:  # a triad's wrong string sits among three pitch classes
        return False
    # pitch classes: the note model now and then hears the fifth an octave low
    return any((n.pitch - m.pitch) % 12 == 7 and (m.pitch - root) % 12 in scale_degrees for m in struck)


def _fits(n: Note, notes: list[Note], key: Key, profiles: dict[str, list[float]] | None) -> bool:
    """The note belongs to the key: a degree the key (or the library, in that scale) plays, or a power chord's
    fifth on one of its roots."""
    scale_degrees = frozenset((pc - key.root) % 12 for pc in key.pitch_classes)
    if (n.pitch - key.root) % 12 in allowed_degrees((profiles or {}).get(key.scale), scale_degrees):
        return True
    return _power_chord_fifth(n, notes, scale_degrees, key.root)


def findings(notes: list[Note], ctx: MusicContext, profiles: dict[str, list[float]] | None = None) -> list[Finding]:
    """One finding per clearly played out-of-key note (a wrong note repeated through a chord is one each).
    `profiles`: the library's degree profile per scale (learned at `fit`)."""
    if ctx.key is None:
        return []
    key = ctx.key
    estimated = ctx.key_from == "estimate"
    keys = (key, *ctx.key_alternatives)
    out = []
    for n in notes:
        if not clearly_played(n):
            continue
        if any(_fits(n, notes, k, profiles) for k in keys):
            continue
        if estimated and attacks(notes, n.pitch % 12) > 1:
            continue
        weight = n.velocity * min(1.0, (n.offset_s - n.onset_s) / 0.25)
        severity = round(float(1.0 - 0.7 * np.exp(-3.0 * weight)), 3)
        where = ctx.where(n.onset_s)
        outside = f"every key this take suggests ({key}, estimated)" if estimated else str(key)
        out.append(
            Finding(
                "wrong_note",
                severity,
                round(n.onset_s, 4),
                round(n.offset_s - n.onset_s, 4),
                f"{n.name} at {n.onset_s:.2f} s" + (f" ({where})" if where else "") + f" is outside {outside}",
            )
        )
    return out
