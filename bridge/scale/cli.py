"""The `--engine ray` options of `score` and `embed`, and what they run (imports Ray only when used)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..context import TakeContext
from ..errors import LoopbridgeError
from ..extras import require


def add_arguments(p: argparse.ArgumentParser, with_out: bool) -> None:
    """`with_out`: the command has no --out/--batch-size of its own (score), so add them here."""
    g = p.add_argument_group("scale-out (the loopbridge[ray] extra)")
    if with_out:
        g.add_argument("--out", type=Path, help="with --engine ray: results .parquet (rerun with it to resume)")
        g.add_argument("--batch-size", type=int, default=16, help="files per encoder batch")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="'ray': run on Ray Data (this machine, or a cluster with --address) and write Parquet to --out",
    )
    g.add_argument(
        "--address",
        help="Ray cluster: 'auto' (the one this machine joined), ray://HOST:10001; default: a local Ray for the job",
    )
    g.add_argument(
        "--actors", type=int, help="actors (default: one encoder actor per GPU; on CPU-only clusters one actor per CPU)"
    )
    g.add_argument("--gpus-per-actor", type=float, default=1.0, help="below 1 puts several actors on a GPU")


def options(args: argparse.Namespace):
    from .job import Options

    return Options(
        address=args.address,
        batch_size=args.batch_size,
        actors=args.actors,
        gpus_per_actor=args.gpus_per_actor,
        max_seconds=args.max_seconds,
        quantile=getattr(args, "quantile", None),
    )


def run(args: argparse.Namespace, kind: str, context: TakeContext | None = None) -> int:
    """`loopbridge score|embed --engine ray`: prints the summary; rerunning with the same --out resumes.
    `context` (score's --bpm/--key/--meter/--start/--end) goes to every file's decode and checks."""
    require("ray", f"loopbridge {kind} --engine ray")
    from . import job
    from .listing import list_files

    if not args.out:
        raise LoopbridgeError(f"loopbridge {kind} --engine ray needs --out FILE.parquet", "usage")
    out = job.check_out(Path(args.out))
    files = list_files(args.inputs)
    if not files:
        raise LoopbridgeError("no audio files found in " + ", ".join(map(str, args.inputs)), "no_files")
    if kind == "score":
        summary = job.score(files, args.model, out, options(args), context)
    else:
        summary = job.embed(files, args.encoder, out, options(args))
    print(summary.line(out))
    return 0
