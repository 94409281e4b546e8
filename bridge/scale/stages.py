"""The two Ray Data stages. Both work on batches (dicts of numpy columns) and never raise for a bad file:
a file that fails becomes a row with an error code and message.

decode_batch (CPU task): content hash, skip what is already done, decode (only the context's region, when the
command line gave one) + resample, the checks (with the take's context), and the encoder's front-end (log-mel /
fusion input), so the encoder actors only run the ONNX graph.
ScoreActor / EmbedActor (actor pool): one ONNX Runtime session each (on a GPU when given one), batched;
ScoreActor also scores with the bundle's heads and joins the checks' reasons, exactly as `Scorer` does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import audio, checks
from ..context import TakeContext
from ..encoders import Encoder, prepare_inputs
from ..errors import LoopbridgeError
from ..hashing import file_sha256
from ..pipeline import Scorer
from ..results import Finding
from . import output

INPUT_PREFIX = "x_"
_done_sets: dict[str, frozenset[tuple[str, str]]] = {}


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
    """Paths → what the encoder actors need, plus each file's hash, duration, region decoded, reasons or error.
    `context` (the same for every file, as `score` gives it to each of its inputs) sets the region and the checks.

    With `long_s`, a take longer than that is only marked `long`: the actor scores it block by block, as
    `Scorer.score_files` does, so memory stays bounded and the verdict is the same."""
    skip = _done(done)
    rows: list[dict[str, Any]] = []
    for path in (str(p) for p in batch["path"]):
        try:
            digest = file_sha256(path)
        except OSError:
            digest = ""  # audio.load names the problem below
        if digest and (path, digest) in skip:
            continue
        rows.append(_decode_one(path, digest, input_names, calibration, with_checks, max_seconds, long_s, context))
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
        "reasons": np.array([r.get("reasons", "[]") for r in rows], dtype=object),
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
        # as Scorer does
        found = checks.check_take(clip.native, calibration, context=context).findings if with_checks else []
        if clip.region:
            row["region"] = clip.region
        row.update(
            duration_s=clip.duration_s,
            silent=clip.is_silent,
            reasons=json.dumps([f.__dict__ for f in found]),
            inputs=prepare_inputs(clip.samples, input_names),
        )
    except LoopbridgeError as exc:
        row.update(error_code=exc.code, error_message=exc.message)
    except Exception as exc:  # one odd file must not stop a job over a million: it becomes an error row
        row.update(error_code="internal", error_message=f"{path}: {type(exc).__name__}: {exc}")
    return row


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
        self.scorer = Scorer(bundle_path, self.encoder)
        if quantile is not None:
            self.scorer.bundle.set_quantile(quantile)
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
                r = next(scored)
                r.reasons = [Finding(**f) for f in json.loads(batch["reasons"][i])]
                start, end = batch["region_start"][i], batch["region_end"][i]
                r.region = None if np.isnan(start) else (float(start), float(end))
                rows.append(output.score_row(r, h))
        return pa.Table.from_pylist(rows, schema=self.schema)
