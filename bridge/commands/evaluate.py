"""`loopbridge evaluate`: AUROC and pAUC@0.1 of a model on a labelled set, per head and per defect kind."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..limits import MAX_SECONDS

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure a model on labelled files (AUROC, pAUC@0.1 per head and defect kind)")
    p.add_argument("--model", required=True, help="model name (see `loopbridge fit`) or bundle folder")
    p.add_argument(
        "--labels",
        required=True,
        type=Path,
        metavar="FILE.csv",
        help="CSV with columns file,label: 0 = normal, 1 = anomalous, or a defect name; paths relative to the CSV",
    )
    p.add_argument("--head", help="head combined with the checks (default: the model's primary head)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of tables")
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="skip files longer than this")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--results", type=Path, metavar="FILE.parquet", help="read scores from `score --engine ray` instead of scoring"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import Bundle
    from ..export.evaluate import evaluate_sources, format_table, read_labels, score_labelled

    labels = read_labels(args.labels)
    bundle = Bundle.load(args.model)
    scored = score_labelled(
        bundle, labels, args.head, args.max_seconds, progress=not args.no_progress, results=args.results
    )
    for f in scored.skipped:
        log.warning("skipped %s", f.error.message)
    metrics = evaluate_sources(labels, scored.scores, scored.flags)
    if args.json:
        print(
            json.dumps(
                {
                    "model": bundle.name,
                    "encoder": bundle.encoder.preset,
                    "labels": str(args.labels),
                    "combined_head": scored.combined_head,
                    "skipped": [{"file": f.path, "error": f.error.message} for f in scored.skipped],
                    "metrics": [m.to_dict() for m in metrics],
                },
                indent=2,
            )
        )
        return 0
    n_normal = labels.kinds.count("normal")
    print(
        f"model {bundle.name} (encoder {bundle.encoder.preset or 'unknown'}) on {args.labels}: "
        f"{n_normal} normal, {len(labels.files) - n_normal} anomalous, {len(scored.skipped)} skipped; "
        f"combined = {scored.combined_head} or checks{'' if bundle.checks else ' (built-in check limits: model not calibrated)'}"
    )
    print(format_table(metrics))
    return 0
