"""The Ray Data stages. All work on batches and never raise for a bad file: a file that fails becomes a row with
an error code and message.

Two shapes of pipeline (job.py picks one):

- CPU-only cluster: one actor stage, ScoreFiles / EmbedFiles. Each actor is a whole single-process `score`
  (`Scorer.score_files`) or `embed` (`embedding.embed_files`) on its batch of paths, after hashing them and
  skipping what is already done; one actor per CPU. Nothing crosses the object store but paths and rows, and
  the rows are the single-process ones by construction (musical context included).
- GPUs in the cluster: decode_batch (CPU task) hashes, skips, decodes (only the context's region) + resamples,
  runs the checks (with the take's context) and the encoder's front-end, so that ScoreActor / EmbedActor (one
  ONNX Runtime session each, on a GPU) only run the graph; ScoreActor scores with the bundle's heads and joins
  the checks' report with `pipeline.judged`, as `Scorer` does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import audio, checks
from ..context import TakeContext
from ..embedding import embed_files
from ..encoders import Encoder, prepare_inputs
from ..errors import LoopbridgeError
from ..hashing import file_sha256
from ..pipeline import Scorer, judged
from ..results import Finding, Standing
from . import output

INPUT_PREFIX = "x_"
_done_sets: dict[str, frozenset[tuple[str, str]]] = {}


def todo(paths: Any, done: frozenset[tuple[str, str]]) -> list[tuple[str, str]]:
    """(path, content hash) of the batch's files not yet in the results; an unreadable file gets hash ''
    (the decode names the problem, and it is tried again next run)."""
    out = []
    for path in (str(p) for p in paths):
        try:
            digest = file_sha256(path)
        except OSError:
            digest = ""
        if not (digest and (path, digest) in done):
            out.append((path, digest))
    return out


def _isolated(work: Callable[[list[str]], list[dict[str, Any]]], paths: list[str]) -> list[dict[str, Any]]:
    """`work` on the whole batch; if something unforeseen breaks it, file by file, so that one odd file in a
    million becomes an error row instead of stopping the job."""
    try:
        return work(paths)
    except Exception:
        rows = []
        for path in paths:
            try:
                rows += work([path])
            except Exception as exc:
                rows.append(output.error_row(path, "", "internal", f"{path}: {type(exc).__name__}: {exc}"))
        return rows


class _FilesActor:
    """The fused stage's common part: which files of a batch to do, and their rows in the results' schema."""

    def __init__(self, schema: pa.Schema, done: Any) -> None:
        # One ONNX thread: there is one of these actors per CPU. Set here rather than in a runtime_env, so that
        # Ray can start the actor in a worker it has already started.
        os.environ.setdefault("LOOPBRIDGE_THREADS", "1")
        self.schema = schema
        self.done = _done(done)

    def rows(self, paths: list[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        hashes = dict(todo(batch["path"], self.done))
        rows = _isolated(self.rows, list(hashes))
        for row in rows:
            row["content_hash"] = hashes.get(row["path"]) or None  # a folder in a list of paths: its files, unhashed
        return pa.Table.from_pylist(rows, schema=self.schema)


class ScoreFiles(_FilesActor):
    """`score` of a batch of files in this process, exactly as the single-process command runs it."""

    def __init__(
        self,
        encoder_path: str,
        bundle_path: str,
        quantile: float | None,
        max_seconds: float,
        schema: pa.Schema,
        context: TakeContext | None = None,
        done: Any = None,
    ) -> None:
        super().__init__(schema, done)
        self.scorer = _scorer(bundle_path, Encoder(Path(encoder_path)), quantile)
        self.max_seconds, self.context = max_seconds, context

    def rows(self, paths: list[str]) -> list[dict[str, Any]]:
        contexts = None if self.context is None else [self.context] * len(paths)
        results, failures = self.scorer.score_files(paths, self.max_seconds, contexts)
        return [output.score_row(r, "") for r in results] + [
            output.error_row(f.path, "", f.error.code, f.error.message) for f in failures
        ]


class EmbedFiles(_FilesActor):
    """`embed` of a batch of files in this process, as the single-process command runs it."""

    def __init__(self, encoder_path: str, max_seconds: float, schema: pa.Schema, done: Any = None) -> None:
        super().__init__(schema, done)
        self.encoder = Encoder(Path(encoder_path))
        self.max_seconds = max_seconds

    def rows(self, paths: list[str]) -> list[dict[str, Any]]:
        emb, failures = embed_files([Path(p) for p in paths], self.encoder, len(paths), False, self.max_seconds)
        return [
            output.embed_row(p, "", float(d), v) for p, d, v in zip(emb.files, emb.durations, emb.vectors, strict=True)
        ] + [output.error_row(f.path, "", f.error.code, f.error.message) for f in failures]


def decode_batch(
    batch: dict[str, np.ndarray],
    input_names: tuple[str, ...],
    calibration: dict | None,
    with_checks: bool,
    max_seconds: float,
    done: Any,
    long_s: float | None = None,
    context: TakeContext | None = None,
) -> dict[str, np.ndarray]:
    """Paths → what the encoder actors need, plus each file's hash, duration, region decoded, check report or
    error. `context` (the same for every file, as `score` gives it to each of its inputs) sets the region and
    the checks.

    With `long_s`, a take longer than that is only marked `long`: the actor scores it block by block, as
    `Scorer.score_files` does, so memory stays bounded and the verdict is the same."""
    rows = [
        _decode_one(path, digest, input_names, calibration, with_checks, max_seconds, long_s, context)
        for path, digest in todo(batch["path"], _done(done))
    ]
    zeros = _zero_inputs(input_names)
    return {
        "path": np.array([r["path"] for r in rows], dtype=object),
        "content_hash": np.array([r["content_hash"] for r in rows], dtype=object),
        "duration_s": np.array([r.get("duration_s", np.nan) for r in rows], dtype=np.float64),
        "silent": np.array([r.get("silent", False) for r in rows], dtype=bool),
        "long": np.array([r.get("long", False) for r in rows], dtype=bool),
        # the region decoded, in seconds of the file (NaN: the whole file)
        "region_start": np.array([r.get("region", (np.nan, np.nan))[0] for r in rows], dtype=np.float64),
        "region_end": np.array([r.get("region", (np.nan, np.nan))[1] for r in rows], dtype=np.float64),
        "report": np.array([r.get("report", "{}") for r in rows], dtype=object),
        "error_code": np.array([r.get("error_code", "") for r in rows], dtype=object),
        "error_message": np.array([r.get("error_message", "") for r in rows], dtype=object),
        **{
            INPUT_PREFIX + k: np.stack([r["inputs"][k] if "inputs" in r else z for r in rows])
            if rows
            else np.zeros((0, *z.shape), z.dtype)
            for k, z in zeros.items()
        },
    }


def _decode_one(
    path: str,
    digest: str,
    input_names: tuple[str, ...],
    calibration: dict | None,
    with_checks: bool,
    max_s: float,
    long_s: float | None,
    context: TakeContext | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path, "content_hash": digest}
    region = context.region if context else None
    try:
        if long_s is not None:
            start, end = audio.probe(path, max_s, region)
            if end - start > long_s:
                return {**row, "long": True}
        clip = audio.load(path, max_s, region)
        if clip.region:
            row["region"] = clip.region
        row.update(duration_s=clip.duration_s, silent=clip.is_silent, inputs=prepare_inputs(clip.samples, input_names))
        if with_checks:  # as Scorer does
            row["report"] = _report_json(checks.check_take(clip.native, calibration, context=context))
    except LoopbridgeError as exc:
        row.update(error_code=exc.code, error_message=exc.message)
    except Exception as exc:  # one odd file must not stop a job over a million: it becomes an error row
        row.update(error_code="internal", error_message=f"{path}: {type(exc).__name__}: {exc}")
    return row


def _report_json(report: checks.CheckReport) -> str:
    """A CheckReport as it travels from the CPU task to the actor (a plain string column)."""
    return json.dumps(
        {
            "findings": [asdict(f) for f in report.findings],
            "music": report.music,
            "standing": asdict(report.standing) if report.standing else None,
        }
    )


def _report(text: str) -> checks.CheckReport:
    d = json.loads(text)
    standing = Standing(**d["standing"]) if d.get("standing") else None
    return checks.CheckReport([Finding(**f) for f in d.get("findings", [])], d.get("music"), standing)


def _done(ref: Any) -> frozenset[tuple[str, str]]:
    """The (path, hash) pairs already written, fetched once per worker process from the object store."""
    if ref is None:
        return frozenset()
    key = ref.hex()
    if key not in _done_sets:
        import ray

        _done_sets.clear()
        _done_sets[key] = ray.get(ref)
    return _done_sets[key]


def _scorer(bundle_path: str, encoder: Encoder, quantile: float | None) -> Scorer:
    """The bundle with the encoder file the job was given (the same path on every node), at the job's quantile."""
    scorer = Scorer(bundle_path, encoder)
    if quantile is not None:
        scorer.bundle.set_quantile(quantile)
    return scorer


@lru_cache(maxsize=4)
def _zero_inputs(input_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Placeholders of the right shape for failed rows, so every batch has the same columns."""
    return {
        k: np.zeros_like(v) for k, v in prepare_inputs(np.zeros(audio.SAMPLE_RATE, np.float32), input_names).items()
    }


class _EncoderActor:
    """Holds one encoder session; embeds the batch's good rows."""

    def __init__(self, encoder_path: str) -> None:
        self.encoder = Encoder(Path(encoder_path))

    def embed(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        ok = np.array([not c for c in batch["error_code"]], dtype=bool) & ~batch["long"]
        inputs = {k: batch[INPUT_PREFIX + k][ok] for k in self.encoder.input_names}
        X = self.encoder.embed_inputs(inputs) if ok.any() else np.zeros((0, self.encoder.dim), np.float32)
        return ok, X


class EmbedActor(_EncoderActor):
    def __init__(self, encoder_path: str, schema: pa.Schema) -> None:
        super().__init__(encoder_path)
        self.schema = schema

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        ok, X = self.embed(batch)
        vectors = iter(X)
        rows = [
            output.embed_row(p, h, float(d), next(vectors)) if good else output.error_row(p, h, code, msg)
            for p, h, d, good, code, msg in zip(
                batch["path"],
                batch["content_hash"],
                batch["duration_s"],
                ok,
                batch["error_code"],
                batch["error_message"],
                strict=True,
            )
        ]
        return pa.Table.from_pylist(rows, schema=self.schema)


class ScoreActor(_EncoderActor):
    def __init__(
        self,
        encoder_path: str,
        bundle_path: str,
        quantile: float | None,
        max_seconds: float,
        schema: pa.Schema,
        context: TakeContext | None = None,
    ) -> None:
        super().__init__(encoder_path)
        self.max_seconds = max_seconds
        self.context = context  # for long takes, which this actor decodes and checks block by block
        self.scorer = _scorer(bundle_path, self.encoder, quantile)
        self.schema = schema

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        ok, X = self.embed(batch)
        paths = [str(p) for p in batch["path"]]
        scored = iter(
            self.scorer.score_embeddings(
                X, list(np.array(paths)[ok]), batch["duration_s"][ok], list(batch["silent"][ok])
            )
            if ok.any()
            else []
        )
        rows = []
        for i, path in enumerate(paths):
            h, code = batch["content_hash"][i], batch["error_code"][i]
            if batch["long"][i]:
                try:
                    rows.append(output.score_row(self.scorer.score_long(path, self.max_seconds, self.context), h))
                except LoopbridgeError as exc:
                    rows.append(output.error_row(path, h, exc.code, exc.message))
            elif code:
                rows.append(output.error_row(path, h, code, batch["error_message"][i]))
            else:
                start, end = batch["region_start"][i], batch["region_end"][i]
                region = None if np.isnan(start) else (float(start), float(end))
                rows.append(output.score_row(judged(next(scored), _report(batch["report"][i]), region), h))
        return pa.Table.from_pylist(rows, schema=self.schema)
