"""`loopbridge score`: which takes are off, most unusual first — runtime only (ONNX Runtime, no torch)."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path

from ..cli_context import add_context_options, context_from_args
from ..errors import LoopbridgeError
from ..limits import MAX_SECONDS
from ..results import TakeResult
from ..scale import cli as scale_cli

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score takes with a fitted model; most unusual first")
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="audio files or folders (searched recursively)")
    p.add_argument(
        "--embeddings", type=Path, help="score saved embeddings instead (.npz from `loopbridge embed`, or .npy)"
    )
    p.add_argument("--model", required=True, help="model name or bundle folder (see `loopbridge fit`)")
    p.add_argument(
        "--quantile",
        type=float,
        help="sensitivity: threshold at this quantile of training scores (model's own by default)",
    )
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="refuse files longer than this")
    add_context_options(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON list on stdout")
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout")
    scale_cli.add_arguments(p, with_out=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checks import DEFAULTS_NOTICE
    from ..embedding import EmbedFailure, load_embeddings
    from ..pipeline import Scorer

    if bool(args.inputs) == bool(args.embeddings):
        raise LoopbridgeError("give either FILE_OR_DIR... or --embeddings FILE (not both, not neither)", "usage")
    context = context_from_args(args)
    if args.engine == "ray":
        return scale_cli.run(args, "score", context)
    scorer = Scorer(args.model)
    if args.quantile is not None:
        scorer.bundle.set_quantile(args.quantile)
    if args.embeddings:
        emb = load_embeddings(args.embeddings)
        scorer.check_embedding_source(emb.encoder_id)
        results = scorer.score_embeddings(emb.vectors, emb.files, emb.durations)
        failures: list[EmbedFailure] = []
    else:
        if scorer.bundle.checks is None:
            log.warning("note: %s", DEFAULTS_NOTICE)
        contexts = None if context is None else [context] * len(args.inputs)
        results, failures = scorer.score_files(args.inputs, args.max_seconds, contexts)
        if not results and not failures:
            raise LoopbridgeError("no audio files found in " + ", ".join(args.inputs), "no_files")
    for f in failures:
        log.warning("skipped %s", f.error.message)
    if not results:
        raise LoopbridgeError(f"none of the {len(failures)} file(s) could be scored", "no_files")
    results.sort(key=lambda r: r.score, reverse=True)
    heads = scorer.bundle.heads
    if args.json:
        json.dump([as_dict(r) for r in results], sys.stdout, indent=2)
        print()
    elif args.csv:
        write_csv(results, heads)
    else:
        print(table(results, heads))
        flagged = sum(r.flag for r in results)
        print(
            f"\n{flagged} of {len(results)} flagged by model '{scorer.bundle.name}' (primary head {scorer.bundle.primary})"
            + (f"; {len(failures)} skipped" if failures else "")
        )
    return 0


def as_dict(r: TakeResult) -> dict:
    return {
        "file": r.path,
        "duration_s": None if math.isnan(r.duration_s) else r.duration_s,
        "head": r.head,
        "score": r.score,
        "threshold": r.threshold,
        "flag": r.flag,
        "flagged_by": r.flagged_by,
        "silent": r.silent,
        "region": list(r.region) if r.region else None,
        "head_scores": r.head_scores,
        "head_thresholds": r.head_thresholds,
        "reasons": [f.__dict__ for f in r.reasons],
    }


def reasons_text(r: TakeResult) -> str:
    """The findings' messages; a silent take is said to be silent once (the silence check's message says it)."""
    text = "; ".join(f.message for f in r.reasons)
    if r.silent and not any(f.kind == "silence" for f in r.reasons):  # e.g. stereo that cancels in the mix-down
        text += " (silent take)"
    return text.strip()


def write_csv(results: list[TakeResult], heads: list[str]) -> None:
    w = csv.writer(sys.stdout)
    w.writerow(
        ["file", "duration_s", "score", "threshold", "flag", "flagged_by", *(f"{h}_score" for h in heads), "reasons"]
    )
    for r in results:
        w.writerow(
            [
                r.path,
                f"{r.duration_s:.3f}",
                f"{r.score:.6g}",
                f"{r.threshold:.6g}",
                int(r.flag),
                " ".join(r.flagged_by),
                *(f"{r.head_scores[h]:.6g}" for h in heads),
                reasons_text(r),
            ]
        )


def table(results: list[TakeResult], heads: list[str]) -> str:
    """A plain-text table; a head's score gets '*' when it is above that head's threshold."""
    header = ["file", "dur s", *heads, "threshold", "flag", "reasons"]
    rows = [
        [
            r.path,
            "" if math.isnan(r.duration_s) else f"{r.duration_s:.1f}",
            *(f"{r.head_scores[h]:.4g}{'*' if r.head_scores[h] > r.head_thresholds[h] else ''}" for h in heads),
            f"{r.threshold:.4g}",
            "OFF" if r.flag else "ok",
            reasons_text(r),
        ]
        for r in results
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in [header, *rows]
    )
