"""What is known about a take besides its audio: the song's tempo, meter and key, the region of the file the
clip plays, and sibling takes of the same part. Passed in by the caller (OSC request, command line), never
fetched from inside the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TakeContext:
    """Context as the caller gave it; None means "not given" (the musical checks may then read the file name
    or estimate, and say so). Times are seconds of the file; `end_s` None means to the end."""

    bpm: float | None = None
    key: str | None = None  # e.g. "G minor", "F# major", "Gm"
    meter: str | None = None  # e.g. "4/4", "6/8"
    start_s: float | None = None
    end_s: float | None = None
    siblings: tuple[str, ...] = field(default_factory=tuple)  # paths of other takes of the same part
    source: str = "request"  # who gave it: "request" (OSC), "cli"

    @property
    def region(self) -> tuple[float, float | None] | None:
        """(start, end) of the file to judge, or None for the whole file."""
        if self.start_s is None and self.end_s is None:
            return None
        return (self.start_s or 0.0, self.end_s)


NO_CONTEXT = TakeContext(source="none")
