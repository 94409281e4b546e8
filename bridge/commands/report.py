"""`loopbridge report`: one self-contained HTML page with the paper's figures for every head of a model."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..limits import MAX_SECONDS

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write an HTML report (latent plots, score histograms, top files) for a model")
    p.add_argument("--model", required=True, help="model name (see `loopbridge fit`) or bundle folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--data", nargs="+", metavar="FILE_OR_DIR", help="audio to score and plot (folders searched recursively)"
    )
    src.add_argument(
        "--embeddings", type=Path, metavar="FILE", help=".npz from `loopbridge embed`, or a plain .npy matrix"
    )
    p.add_argument("--out", type=Path, default=Path("report"), help="folder for index.html (default: ./report)")
    p.add_argument("--force", action="store_true", help="replace an existing index.html in --out")
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="skip files longer than this")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import extras

    extras.require("torch", "loopbridge report", ("matplotlib",))
    from ..bundle import Bundle
    from ..export.report import bundle_embeddings, bundle_report, report_index, write_report

    report_index(args.out, args.force)  # refuse before the slow part
    bundle = Bundle.load(args.model)
    emb, label = bundle_embeddings(bundle, args.data, args.embeddings, args.max_seconds)
    index = write_report(args.out, bundle_report(bundle, emb.vectors, emb.files, label), force=args.force)
    print(f"report for model '{bundle.name}' on {len(emb)} file(s) → {index}")
    return 0
