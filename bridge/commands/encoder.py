"""`loopbridge encoder list|fetch|export`: which encoders exist, and getting CLAP weights into ONNX.

`list` is runtime-only; `fetch` and `export` build the ONNX graph from laion-clap's PyTorch modules,
so they need the torch extra, which is checked before a 2 GB download starts.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import extras

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encoder", help="list encoders; download CLAP weights and export them to ONNX")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="presets, what is cached, file sizes").set_defaults(func=run_list)

    fetch = actions.add_parser("fetch", help="download a CLAP checkpoint from Hugging Face and export it")
    fetch.add_argument("--preset", default="clap-htsat-fused", help="clap-htsat-fused (default) or clap-htsat-music")
    fetch.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 encoder")
    fetch.set_defaults(func=run_fetch)

    export = actions.add_parser("export", help="export a CLAP checkpoint you already have")
    export.add_argument("--checkpoint", required=True, type=Path, help="laion-clap .pt checkpoint")
    export.add_argument("--preset", required=True, help="the architecture the checkpoint belongs to")
    export.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 encoder")
    export.set_defaults(func=run_export)


def int8_path(preset: str) -> Path:
    from ..encoders import encoder_path

    path = encoder_path(preset)
    return path.with_name(f"{path.stem}-int8.onnx")


def _size(path: Path) -> str:
    if not path.is_file():
        return "-"
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def run_list(args: argparse.Namespace) -> int:
    from ..encoders import PRESETS, encoder_path
    from ..paths import checkpoints_dir, encoders_dir

    rows = [("preset", "dim", "onnx", "int8", "checkpoint", "description")]
    for p in PRESETS.values():
        checkpoint = _size(checkpoints_dir() / p.hub_file[1]) if p.needs_weights else "(none needed)"
        rows.append(
            (
                p.name,
                str(p.embedding_dim or "?"),
                _size(encoder_path(p.name)),
                _size(int8_path(p.name)),
                checkpoint,
                p.description,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    print(f"\nencoders: {encoders_dir()}\ncheckpoints: {checkpoints_dir()}")
    return 0


def _require_torch_side() -> None:
    extras.require("clap", "exporting a CLAP encoder")


def _export(checkpoint: Path, preset: str, int8: bool) -> None:
    from ..encoders import encoder_path
    from ..export.encoder_export import INT8_NOT_FASTER, export_checkpoint, int8_pays_off

    out = export_checkpoint(checkpoint, preset, encoder_path(preset))
    print(f"{preset}: {out} ({_size(out)})")
    if int8 and not int8_pays_off():
        print(f"{preset} int8: {INT8_NOT_FASTER}")
    elif int8:
        out = export_checkpoint(checkpoint, preset, int8_path(preset), int8=True)
        print(f"{preset} int8: {out} ({_size(out)}); use it with --encoder {out}")


def _clap_preset(name: str) -> str:
    from ..weights import clap_preset

    return clap_preset(name).name


def run_fetch(args: argparse.Namespace) -> int:
    from ..weights import fetch_checkpoint

    preset = _clap_preset(args.preset)
    _require_torch_side()
    _export(fetch_checkpoint(preset), preset, args.int8)
    return 0


def run_export(args: argparse.Namespace) -> int:
    preset = _clap_preset(args.preset)
    _require_torch_side()
    _export(args.checkpoint, preset, args.int8)
    return 0
