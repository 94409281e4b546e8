"""`loopbridge embed`: audio files → one embedding per clip, saved as .npz for `fit --embeddings` or research."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import LoopbridgeError
from ..limits import MAX_SECONDS
from ..scale import cli as scale_cli

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed audio files with an encoder and save them as .npz")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files or folders (searched recursively)")
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output .npz (embeddings, files, durations, encoder); .parquet with --engine ray",
    )
    p.add_argument(
        "--encoder", default=None, help="preset name or .onnx path (default: CLAP if installed, else mel-stats)"
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="refuse files longer than this")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    scale_cli.add_arguments(p, with_out=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..audio import expand_paths
    from ..cache import EmbeddingCache
    from ..embedding import embed_files, save_embeddings
    from ..encoders import Encoder

    if args.engine == "ray":
        return scale_cli.run(args, "embed")
    out: Path = args.out if args.out.suffix == ".npz" else args.out.with_suffix(".npz")
    if out.exists() and not args.force:
        raise LoopbridgeError(f"{out} already exists; use --force to overwrite it", "exists")
    files = expand_paths(args.inputs)
    if not files:
        raise LoopbridgeError("no audio files found in " + ", ".join(args.inputs), "no_files")
    encoder = Encoder.open(args.encoder)
    log.info("encoder %s (%d-d) on %s", encoder.id, encoder.dim, encoder.provider)
    cache = None if args.no_cache else EmbeddingCache(encoder.id)
    emb, failures = embed_files(files, encoder, args.batch_size, True, args.max_seconds, cache)
    for f in failures:
        log.warning("skipped %s", f.error.message)
    if not len(emb):
        raise LoopbridgeError(f"none of the {len(files)} file(s) could be embedded", "no_files")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_embeddings(emb, out)
    print(f"{len(emb)} embedding(s) of dimension {emb.vectors.shape[1]} → {out}  ({len(failures)} skipped)")
    return 0
