"""`loopbridge fit`: learn what normal sounds like from a library of loops and save it as a model bundle."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import extras, heads_registry
from ..bundle import DEFAULT_FALSE_FLAGS
from ..errors import LoopbridgeError

if TYPE_CHECKING:
    from ..export.heads import SVDDConfig

log = logging.getLogger("loopbridge")

HEADS = ",".join(heads_registry.HEADS)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="train one-class heads on your loops and save a model bundle")
    p.add_argument("inputs", nargs="*", metavar="AUDIO_DIR", help="folders (or files) of normal loops")
    p.add_argument(
        "--embeddings", type=Path, help="fit on saved embeddings instead (.npz from `loopbridge embed`, or .npy)"
    )
    p.add_argument("--name", required=True, help="model name (the bundle's folder name)")
    p.add_argument("--encoder", default=None, help="preset or .onnx (default: CLAP if installed, else mel-stats)")
    listing = "; ".join(f"{h.name}: {h.summary}" for h in heads_registry.REGISTRY.values())
    p.add_argument("--heads", default=HEADS, help=f"comma-separated heads to train (default: {HEADS}). {listing}")
    p.add_argument("--out", type=Path, help="bundle folder (default: the models folder / NAME)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle of that name")
    p.add_argument("--primary", help="the head a take's flag comes from (default: knn if trained, else the first head)")
    p.add_argument("--seed", type=int, default=0, help="makes training reproducible on CPU")
    p.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="with --embeddings: fit on N rows drawn at random (same --seed, same rows)",
    )
    p.add_argument(
        "--false-flags",
        type=float,
        default=None,
        help="share of the training library's held-out loops the whole decision (primary head OR any check) may flag;"
        " fit chooses the head's threshold and the checks' limits together (default 0.05)",
    )
    p.add_argument(
        "--quantile",
        type=float,
        default=None,
        help="instead of one budget: every head's threshold at this quantile of its held-out scores and the checks"
        " at their calibrated limits (the paper's per-head rule with 0.95)",
    )
    p.add_argument(
        "--threshold-basis",
        choices=("held-out", "in-sample"),
        default="held-out",
        help="score the training loops held out (default; unbiased) or in-sample (the paper; flags more)",
    )
    svdd = p.add_argument_group("Deep SVDD (ae, aewres)")
    svdd.add_argument("--epochs", type=int, default=1000, help="upper bound per phase (early stopping decides)")
    svdd.add_argument("--patience", type=int, default=20, help="epochs without validation improvement before stopping")
    svdd.add_argument(
        "--min-delta",
        type=float,
        default=1e-3,
        help="relative fall of the validation loss that counts as an improvement (0 = any; the best epoch is kept)",
    )
    svdd.add_argument("--hidden", default="512,256,128,64,32", help="layer sizes; the last is the latent")
    svdd.add_argument("--lr", type=float, default=1e-5, help="AdamW learning rate")
    svdd.add_argument("--weight-decay", type=float, default=1e-5, help="AdamW weight decay")
    svdd.add_argument("--batch-size", type=int, default=32)
    svdd.add_argument("--dropout", type=float, default=0.2)
    svdd.add_argument("--eps", type=float, default=0.1, help="centre coordinates nearer 0 are pushed to ±eps")
    svdd.add_argument("--val-fraction", type=float, default=0.2)
    svdd.add_argument("--no-pretrain", action="store_true", help="skip the autoencoder phase (ablation)")
    base = p.add_argument_group("baselines")
    for info in heads_registry.REGISTRY.values():
        for opt in info.options:
            base.add_argument(
                opt.flag,
                type=opt.type,
                default=opt.default,
                dest=_dest(info.name, opt.param),
                metavar=opt.param.upper(),
                help=f"{opt.help} (default {opt.default})",
            )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes training the Deep SVDD heads side by side while the loops are measured"
        " (default: one per usable core; 1: all in this process, one after another)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _dest(head: str, param: str) -> str:
    return f"head_{head}_{param}"


def _require_heads(heads: tuple[str, ...]) -> None:
    """Before any work: the extra each requested head needs (torch only for Deep SVDD)."""
    for name in heads:
        info = heads_registry.get(name)
        if not info.available():
            shallow = ",".join(h.name for h in heads_registry.REGISTRY.values() if h.available())
            hint = f" (or fit only heads that run here: --heads {shallow})" if shallow else ""
            try:
                extras.require(info.extra, f"fit --heads {name}", info.modules)
            except extras.MissingExtra as exc:
                raise extras.MissingExtra(exc.message + hint, exc.code) from None


def run(args: argparse.Namespace) -> int:
    from .. import paths
    from ..embedding import load_embeddings
    from ..encoders import Encoder

    heads = heads_registry.parse(args.heads)
    if bool(args.inputs) == bool(args.embeddings):
        raise LoopbridgeError("give either AUDIO_DIR... or --embeddings FILE (not both, not neither)", "usage")
    dest: Path = args.out or paths.models_dir() / args.name
    if dest.exists() and not args.force:  # before the fitting code (and torch) is imported: answered at once
        raise LoopbridgeError(
            f"model '{dest}' already exists; use --force to replace it, or pick another --name", "exists"
        )
    _require_heads(heads)
    from ..export import fit, head_pool

    try:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    except ValueError as exc:
        raise LoopbridgeError(f"--hidden must be comma-separated integers, got '{args.hidden}'", "usage") from exc
    if args.jobs is not None and args.jobs < 1:
        raise LoopbridgeError(f"--jobs must be 1 or more, got {args.jobs}", "usage")
    if args.quantile is not None and args.false_flags is not None:
        raise LoopbridgeError("give --false-flags (one budget) or --quantile (per head), not both", "usage")
    false_flags: float | None = None  # --quantile: the per-head rule, no budget
    quantile: float = args.quantile if args.quantile is not None else 0.0
    if args.quantile is None:
        false_flags = DEFAULT_FALSE_FLAGS if args.false_flags is None else args.false_flags
        quantile = 1.0 - false_flags
    if not 0.0 < quantile < 1.0:
        what, value = ("--quantile", args.quantile) if false_flags is None else ("--false-flags", false_flags)
        raise LoopbridgeError(f"{what} must be between 0 and 1 (e.g. 0.95 or 0.05), got {value}", "usage")
    opts = fit.FitOptions(
        heads=heads,
        quantile=quantile,
        threshold_basis=args.threshold_basis,
        seed=args.seed,
        svdd=_svdd_config(args, hidden) if any(head_pool.trains_long(h) for h in heads) else None,
        params={
            info.name: {o.param: getattr(args, _dest(info.name, o.param)) for o in info.options}
            for info in heads_registry.REGISTRY.values()
            if info.name in heads and info.options
        },
        progress=not args.no_progress,
        jobs=args.jobs or head_pool.usable_cores(),
    )
    if args.primary is not None and args.primary not in opts.heads:
        raise LoopbridgeError(f"--primary {args.primary} is not among --heads ({', '.join(opts.heads)})", "usage")

    if args.embeddings:
        emb = load_embeddings(args.embeddings)
        if args.sample:
            emb = emb.sample(args.sample, args.seed)
        ref = fit.embeddings_ref(emb)
        training = {"source": str(args.embeddings), "files": len(emb)}
        if ref.preset is None:
            log.warning("note: %s names no encoder; this model will only score embeddings", args.embeddings)
    else:
        encoder = Encoder.open(args.encoder)
        log.info("encoder %s (%d-d) on %s", encoder.id, encoder.dim, encoder.provider)
        emb, failures = fit.embed_library(args.inputs, encoder, progress=opts.progress)
        for f in failures:
            log.warning("skipped %s", f.error.message)
        if not len(emb):
            raise LoopbridgeError(f"none of the {len(failures)} audio file(s) could be read", "no_files")
        ref = fit.encoder_ref(encoder)
        training = {"source": [str(p) for p in args.inputs], "files": len(emb), "skipped": [f.path for f in failures]}

    model = fit.fit_library(emb.vectors, emb.files, opts, false_flags, args.primary)
    out = fit.save_bundle(
        dest,
        args.name,
        model.detectors,
        ref,
        training,
        model.calibration,
        force=args.force,
        primary=model.primary,
        decision=model.decision,
    )
    for name, det in model.detectors.items():
        print(fit.summary_line(name, det))
    print(fit.decision_line(model.decision))
    print(f"model '{args.name}' ({len(emb)} loops, encoder {ref.preset or 'unknown'}) → {out}")
    return 0


def _svdd_config(args: argparse.Namespace, hidden: tuple[int, ...]) -> SVDDConfig:
    from ..export.heads import SVDDConfig

    return SVDDConfig(
        hidden=hidden,
        dropout=args.dropout,
        lr=args.lr,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        min_delta=args.min_delta,
        val_fraction=args.val_fraction,
        eps=args.eps,
        pretrain=not args.no_pretrain,
    )
