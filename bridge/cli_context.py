"""The command line's way to say what is known about the takes: `--start/--end --bpm --key --meter` → TakeContext."""

from __future__ import annotations

import argparse

from .context import TakeContext
from .errors import LoopbridgeError
from .server.protocol import METER_PATTERN


def add_context_options(p: argparse.ArgumentParser, bpm: bool = True) -> None:
    """The options every take-judging command shares (`check` declares its own --bpm)."""
    p.add_argument("--start", type=float, metavar="S", help="judge only the file from S seconds on (a clip's region)")
    p.add_argument("--end", type=float, metavar="E", help="judge only the file up to E seconds")
    if bpm:
        p.add_argument("--bpm", type=float, help="the song's tempo")
    p.add_argument("--key", help='the song\'s key, e.g. "G minor"')
    p.add_argument("--meter", help="the song's meter, e.g. 4/4")


def context_from_args(args: argparse.Namespace) -> TakeContext | None:
    """A TakeContext(source="cli") when any option was given, else None; a region that selects nothing is refused."""
    start, end = args.start, args.end
    if start is not None and start < 0:
        raise LoopbridgeError(f"--start must be 0 or more seconds, got {start:g}", "bad_region")
    if start is not None and end is not None and end <= start:
        raise LoopbridgeError(f"--end ({end:g} s) must be after --start ({start:g} s)", "bad_region")
    if end is not None and end <= 0:
        raise LoopbridgeError(f"--end must be after the file's start, got {end:g}", "bad_region")
    if args.meter is not None and not METER_PATTERN.match(args.meter):
        raise LoopbridgeError(f"--meter must look like 4/4 or 6/8, got {args.meter!r}", "usage")
    if args.bpm is not None and not 20.0 <= args.bpm <= 999.0:
        raise LoopbridgeError(f"--bpm must be between 20 and 999, got {args.bpm:g}", "usage")
    if all(v is None for v in (args.bpm, args.key, args.meter, start, end)):
        return None
    return TakeContext(bpm=args.bpm, key=args.key, meter=args.meter, start_s=start, end_s=end, source="cli")
