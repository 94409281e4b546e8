"""Which files the browser may stream, and which byte range: kept apart from the web framework so the rules are testable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Forbidden(Exception):
    """The path resolves outside every allowed root (the app answers 403)."""


class BadRange(Exception):
    """The Range header cannot be satisfied (the app answers 416)."""


def resolve_allowed(path: str | Path, roots: Iterable[Path]) -> Path:
    """Resolve symlinks and `..` first, then require the real file to sit under a real root."""
    real = Path(path).resolve()
    for root in roots:
        if real.is_relative_to(Path(root).resolve()):
            if not real.is_file():
                raise FileNotFoundError(real)
            return real
    raise Forbidden(str(path))


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b` range as inclusive (start, end); None means send the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise BadRange(header)
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if size == 0 or start > end or start >= size:
        raise BadRange(header)
    return start, end
