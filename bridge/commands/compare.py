"""`loopbridge compare`: takes of one part side by side — where each departs from the others, ranked tightest first."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ..errors import LoopbridgeError
from ..limits import MAX_SECONDS

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="takes of one part: missing, added or changed notes, shifted onsets, buzz; ranked tightest first",
        description="Treat the files as takes of one part (same tempo and length, starting on the downbeat). "
        "With 2 takes it says which notes differ; with 3 or more it uses the others' consensus. "
        "Exit status: 0 no take flagged, 1 a take flagged, 2 nothing compared.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="two or more takes of the same part")
    p.add_argument("--bpm", type=float, help="the song's tempo (else read from the first name, else estimated)")
    p.add_argument("--key", help='the song\'s key, e.g. "G minor" (else read from a name, else estimated)')
    p.add_argument("--meter", help="the song's meter, e.g. 4/4")
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="refuse files longer than this")
    p.add_argument("--json", action="store_true", help="JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..audio import expand_paths, read_native
    from ..context import TakeContext
    from ..music import compare as cmp
    from ..music import context as mctx
    from ..music import mono_of, transcribe

    files = expand_paths(args.inputs)
    if len(files) < 2:
        raise LoopbridgeError("compare needs two or more takes of the same part", "usage")
    takes = []
    for f in files:
        native = read_native(f, args.max_seconds)  # one unreadable take makes the comparison meaningless: stop
        mono = mono_of(native)
        takes.append(cmp.Take(str(f), transcribe(mono, native.sample_rate), mono, native.sample_rate))
    given = TakeContext(bpm=args.bpm, key=args.key, meter=args.meter, source="cli")
    named = next((t.path for t in takes if mctx.key_from_name(t.path) or mctx.tempo_from_name(t.path)), takes[0].path)
    pooled = [n for t in takes for n in t.notes]
    ctx = mctx.resolve(given, named, pooled, takes[0].mono, takes[0].sr)
    rows = cmp.compare_takes(takes, ctx)
    if args.json:
        json.dump({"context": ctx.as_dict(), "takes": [_row(r) for r in rows]}, sys.stdout, indent=2)
        print()
    else:
        print(report(rows, ctx))
    return 1 if any(r.flag for r in rows) else 0


def _row(r: Any) -> dict[str, Any]:
    return {
        "file": r.path,
        "rank": r.rank,
        "score": r.score,
        "flag": r.flag,
        "departures": [f.__dict__ for f in r.findings],
    }


def report(rows: list[Any], ctx: Any) -> str:
    """The ranking, tightest first, each take with its departures."""
    lines = [f"{len(rows)} takes of one part, judged at {ctx.describe()}"]
    for i, r in sorted(enumerate(rows, start=1), key=lambda ir: ir[1].rank):
        verdict = "FLAGGED" if r.flag else "ok"
        lines.append(f"{r.rank}. take {i}  {r.path}  score {r.score:.2f}  {verdict}")
        for f in r.findings:
            lines.append(f"     {f.kind:<12} {f.severity:.2f}  {f.message}")
    return "\n".join(lines)


__all__ = ["register", "report", "run"]
