"""Runs a scale-out job on Ray Data: list → decode + checks → encoder (+ heads) → Parquet (shapes: stages.py).

Where Ray runs: `address=None` starts a local Ray on this machine for the job (a laptop); "auto" joins the
cluster this machine belongs to (`ray start` was run here); "ray://head:10001" connects to a remote cluster
through Ray Client. Workers must see the audio, the model folder and the encoder file at the same paths
(shared storage); the results come back to this process, which writes `--out` locally.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import audio
from ..context import TakeContext
from ..encoders import Encoder
from ..errors import LoopbridgeError
from ..pipeline import LONG_TAKE_S, Scorer
from . import output, stages

log = logging.getLogger("loopbridge")
BATCHES_PER_BLOCK = 8


@dataclass
class Options:
    address: str | None = None
    batch_size: int = 16
    actors: int | None = None  # default: one encoder actor per GPU, else one actor per CPU
    gpus_per_actor: float = 1.0  # below 1 puts several encoder actors on one GPU
    max_seconds: float = audio.DEFAULT_MAX_SECONDS
    quantile: float | None = None


@dataclass
class Summary:
    listed: int
    skipped: int = 0
    scored: int = 0
    flagged: int = 0
    failed: int = 0
    seconds: float = 0.0
    rows_in_out: int = 0
    first_result_s: float = math.nan  # start-up: Ray's workers, the encoder sessions, the first batch

    def line(self, out: Path) -> str:
        done = self.scored + self.failed
        rate = done / self.seconds if self.seconds > 0 else math.nan
        return (
            f"{self.scored} scored, {self.flagged} flagged, {self.failed} failed, {self.skipped} already in {out}; "
            f"{rate:.1f} files/s ({self.seconds:.1f} s); {out} now holds {self.rows_in_out} rows"
        )


def score(files: list[str], model: str, out: Path, opts: Options, context: TakeContext | None = None) -> Summary:
    """`context` (the command line's --bpm/--key/--meter/--start/--end) applies to every file, as in `score`."""
    scorer = Scorer(model)
    if opts.quantile is not None:
        scorer.bundle.set_quantile(opts.quantile)
    bundle, encoder = scorer.bundle, scorer.encoder  # opened here so a wrong model fails before Ray starts
    job = {
        "kind": "score",
        "model": bundle.name,
        "encoder": encoder.id,
        "thresholds": {h: round(t, 12) for h, t in sorted(bundle.thresholds.items())},
        "checks": bundle.checks is not None,
        "columns": 2,  # the musical context and standing columns: older files are another job's
    }
    if context is not None:  # another context judges the takes differently: its rows must not mix with these
        job["context"] = {k: v for k, v in asdict(context).items() if k != "source"}
    schema = output.score_schema(bundle.heads, job, with_region=context is not None and context.region is not None)
    actor = {
        "encoder_path": str(encoder.path),
        "bundle_path": str(bundle.path),
        "quantile": opts.quantile,
        "max_seconds": opts.max_seconds,
        "schema": schema,
        "context": context,
    }
    decode = {"calibration": bundle.checks, "with_checks": True, "long_s": LONG_TAKE_S, "context": context}
    stages_ = _Stages((stages.ScoreFiles, actor), (stages.ScoreActor, actor), decode)
    return _run(files, output.ResultStore(out, schema), encoder, stages_, opts)


def embed(files: list[str], encoder_name: str | None, out: Path, opts: Options) -> Summary:
    encoder = Encoder.open(encoder_name)
    schema = output.embed_schema(encoder.dim, {"kind": "embed", "encoder": encoder.id, "encoder_name": encoder.name})
    path = str(encoder.path)
    fused = (stages.EmbedFiles, {"encoder_path": path, "max_seconds": opts.max_seconds, "schema": schema})
    # embed reads whole files, long ones too (scoring judges a long take in blocks)
    decode = {"calibration": None, "with_checks": False, "long_s": None, "context": None}
    stages_ = _Stages(fused, (stages.EmbedActor, {"encoder_path": path, "schema": schema}), decode)
    return _run(files, output.ResultStore(out, schema), encoder, stages_, opts)


@dataclass
class _Stages:
    """The job's two shapes (see stages.py): `fused`, one actor per CPU doing the single-process command on its
    batch (CPU-only clusters); `split`, CPU tasks running decode_batch with `decode`'s arguments, then encoder
    actors on the GPUs."""

    fused: tuple[type, dict[str, Any]]
    split: tuple[type, dict[str, Any]]
    decode: dict[str, Any]


def _run(files: list[str], store: output.ResultStore, encoder: Encoder, stages_: _Stages, opts: Options) -> Summary:
    import ray

    summary = Summary(listed=len(files))
    done = store.done()
    _connect(opts.address)
    start = time.perf_counter()
    try:
        done_ref = ray.put(frozenset(done)) if done else None
        ds = _pipeline(ray, files, done_ref, encoder, stages_, opts)
        _drain(ds, store, summary, start)
    finally:
        summary.seconds = time.perf_counter() - start
        summary.skipped = summary.listed - summary.scored - summary.failed
        summary.rows_in_out = store.merge()
    return summary


def _connect(address: str | None) -> None:
    import ray

    if ray.is_initialized():
        return
    if address is None:  # a Ray of its own for this job, on this machine's cores
        ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)


def _pipeline(ray: Any, files: list[str], done_ref: Any, encoder: Encoder, stages_: _Stages, opts: Options) -> Any:
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    if gpus:
        n_actors = opts.actors or max(1, int(gpus / opts.gpus_per_actor))
        log.info("ray: %d CPU, %d GPU; decode tasks on the CPUs, %d encoder actor(s) on the GPUs", cpus, gpus, n_actors)
    else:
        n_actors = opts.actors or max(1, int(cpus))
        log.info("ray: %d CPU; %d actor(s) decoding, checking and embedding", cpus, n_actors)
    ds = ray.data.from_items([{"path": p} for p in files], override_num_blocks=_blocks(len(files), n_actors, opts))
    if not gpus:
        # Each actor is a whole single-process job on its batches, one per CPU: no stage boundary, nothing but
        # paths and rows through the object store (docs/scale.md: on 2 cores the split shape reached 0.67-0.78x
        # the single process, because Ray Data reserved CPUs for its actor stage and ran one decode task at a time).
        cls, kwargs = stages_.fused
        return ds.map_batches(
            cls,
            fn_constructor_kwargs={**kwargs, "done": done_ref},
            batch_size=opts.batch_size,
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=1,
        )
    ds = ds.map_batches(
        stages.decode_batch,
        batch_size=opts.batch_size,
        fn_kwargs={
            **stages_.decode,
            "input_names": encoder.input_names,
            "max_seconds": opts.max_seconds,
            "done": done_ref,
        },
        num_cpus=1,
    )
    cls, kwargs = stages_.split
    return ds.map_batches(
        cls,
        fn_constructor_kwargs=kwargs,
        batch_size=opts.batch_size,
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        num_gpus=opts.gpus_per_actor,
        num_cpus=1,
    )


def _blocks(n_files: int, n_actors: int, opts: Options) -> int:
    """Blocks (one Ray task each) of up to BATCHES_PER_BLOCK batches: Ray Data's cost per task is large beside a
    batch's work (on 2 cores, 16-file blocks ran at 54 files/s, 128-file blocks at 66-97: docs/scale.md), but at
    least 4 blocks per actor, so that none idles long at the end while another finishes a big block."""
    batches = max(1, math.ceil(n_files / opts.batch_size))
    return max(1, min(batches, max(math.ceil(batches / BATCHES_PER_BLOCK), 4 * n_actors)))


def _drain(ds: Any, store: output.ResultStore, summary: Summary, start: float) -> None:
    """Each finished block (a task's batches) becomes a part file as soon as it arrives, so a kill loses only the
    blocks in flight."""
    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        store.write_part(table)
        if math.isnan(summary.first_result_s):
            summary.first_result_s = time.perf_counter() - start
        failed = sum(1 for c in table["error_code"].to_pylist() if c)
        summary.failed += failed
        summary.scored += table.num_rows - failed
        if "flag" in table.column_names:
            summary.flagged += sum(1 for f in table["flag"].to_pylist() if f)


def check_out(out: Path) -> Path:
    """`--out` must be a .parquet file path (a folder of that name is refused, so nothing is overwritten)."""
    if out.suffix != ".parquet":
        raise LoopbridgeError(f"--out {out}: with --engine ray the results are Parquet; name it *.parquet", "usage")
    if out.is_dir():
        raise LoopbridgeError(f"--out {out} is a folder; give a file name", "exists")
    os.makedirs(out.parent, exist_ok=True)
    return out
