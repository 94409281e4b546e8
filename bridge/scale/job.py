"""Runs a scale-out job on Ray Data: list → decode + checks (CPU tasks) → encoder actors (+ heads) → Parquet.

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


@dataclass
class Options:
    address: str | None = None
    batch_size: int = 16
    actors: int | None = None  # default: one per GPU, else one per two CPUs
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
    }
    if context is not None:  # another context judges the takes differently: its rows must not mix with these
        job["context"] = {k: v for k, v in asdict(context).items() if k != "source"}
    schema = output.score_schema(bundle.heads, job, with_region=context is not None and context.region is not None)
    kwargs = {"encoder_path": str(encoder.path), "bundle_path": str(bundle.path), "quantile": opts.quantile}
    kwargs["max_seconds"] = opts.max_seconds
    actor = (stages.ScoreActor, {**kwargs, "schema": schema, "context": context})
    return _run(files, output.ResultStore(out, schema), encoder, bundle.checks, True, actor, opts, context)


def embed(files: list[str], encoder_name: str | None, out: Path, opts: Options) -> Summary:
    encoder = Encoder.open(encoder_name)
    schema = output.embed_schema(encoder.dim, {"kind": "embed", "encoder": encoder.id, "encoder_name": encoder.name})
    actor = (stages.EmbedActor, {"encoder_path": str(encoder.path), "schema": schema})
    return _run(files, output.ResultStore(out, schema), encoder, None, False, actor, opts)


def _run(
    files: list[str],
    store: output.ResultStore,
    encoder: Encoder,
    calibration: dict | None,
    with_checks: bool,
    actor: tuple[type, dict[str, Any]],
    opts: Options,
    context: TakeContext | None = None,
) -> Summary:
    import ray

    summary = Summary(listed=len(files))
    done = store.done()
    _connect(opts.address)
    start = time.perf_counter()
    try:
        done_ref = ray.put(frozenset(done)) if done else None
        ds = _pipeline(ray, files, done_ref, encoder, calibration, with_checks, actor, opts, context)
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


def _pipeline(
    ray: Any,
    files,
    done_ref,
    encoder: Encoder,
    calibration,
    with_checks: bool,
    actor,
    opts: Options,
    context: TakeContext | None,
):
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    if gpus:
        n_actors = opts.actors or max(1, int(gpus / opts.gpus_per_actor))
        placement: dict[str, Any] = {"num_gpus": opts.gpus_per_actor, "num_cpus": 1}
    else:
        # No CPU slot of their own: the actors share the cores with the decode tasks (each one ONNX thread),
        # so a 1-CPU cluster cannot deadlock with every CPU held by an idle actor.
        n_actors = opts.actors or max(1, int(cpus) // 2)
        placement = {"num_cpus": 0, "runtime_env": {"env_vars": {"LOOPBRIDGE_THREADS": "1"}}}
    log.info("ray: %d CPU, %d GPU; %d encoder actor(s) %s", cpus, gpus, n_actors, "on GPUs" if gpus else "on CPUs")
    blocks = max(1, min(len(files), math.ceil(len(files) / opts.batch_size)))
    ds = ray.data.from_items([{"path": p} for p in files], override_num_blocks=blocks)
    ds = ds.map_batches(
        stages.decode_batch,
        batch_size=opts.batch_size,
        fn_kwargs={
            "input_names": encoder.input_names,
            "calibration": calibration,
            "with_checks": with_checks,
            "long_s": LONG_TAKE_S if with_checks else None,  # scoring judges long takes in blocks; embed does not
            "max_seconds": opts.max_seconds,
            "done": done_ref,
            "context": context,
        },
        num_cpus=1,
    )
    cls, kwargs = actor
    return ds.map_batches(
        cls,
        fn_constructor_kwargs=kwargs,
        batch_size=opts.batch_size,
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        **placement,
    )


def _drain(ds: Any, store: output.ResultStore, summary: Summary, start: float) -> None:
    """Each finished batch becomes a part file as soon as it arrives, so a kill loses only batches in flight."""
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
