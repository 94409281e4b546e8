"""The Parquet results of a scale-out job: one row per file, written as part files per block, merged at the end.

Layout for `--out results.parquet`: finished blocks (a Ray task's batches) land in `results.parquet.parts/part-<run>-<n>.parquet`
(each written to a temporary name and renamed, so a part is whole or absent; every COMPACT_EVERY parts are
rewritten as one, so a million files do not make a million parts); when the job ends — finished,
failed or interrupted — the parts and the previous `results.parquet` are merged into a new `results.parquet`
(again via a temporary file) and the parts are removed. A rerun reads both, and skips every file whose path
and content hash are already there; a newer row for a path replaces the older one. Rows of files that could
not be read at all (no content hash) are retried on every run.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..embedding import Embeddings, EmbedFailure
from ..errors import LoopbridgeError
from ..results import Finding, Standing, TakeResult

JOB_KEY = b"loopbridge.job"
COMPACT_EVERY = 256
FINDING = pa.struct(
    [
        ("kind", pa.string()),
        ("severity", pa.float64()),
        ("start_s", pa.float64()),
        ("duration_s", pa.float64()),
        ("message", pa.string()),
    ]
)
MUSIC = pa.struct(  # TakeResult.context: the tempo, key and meter judged against, and where each came from
    [
        ("bpm", pa.float64()),
        ("bpm_from", pa.string()),
        ("key", pa.string()),
        ("key_from", pa.string()),
        ("meter", pa.string()),
        ("meter_from", pa.string()),
    ]
)
STANDING = pa.struct(
    [
        ("rank", pa.int64()),
        ("of", pa.int64()),
        ("score", pa.float64()),
        ("kind", pa.string()),
        ("departs_s", pa.float64()),
        ("message", pa.string()),
    ]
)
_COMMON = [("path", pa.string()), ("content_hash", pa.string()), ("duration_s", pa.float64())]
_ERROR = [("error_code", pa.string()), ("error_message", pa.string())]


def score_schema(heads: list[str], job: dict[str, Any], with_region: bool = False) -> pa.Schema:
    """Every head's score as `score_<head>`, then the primary head's score, threshold and the decision.
    `with_region` (a job given --start/--end) adds `region`: [start, end] of the file judged, in seconds."""
    region = [("region", pa.list_(pa.float64()))] if with_region else []
    return pa.schema(
        [
            *_COMMON,
            *region,
            ("silent", pa.bool_()),
            *[(f"score_{h}", pa.float64()) for h in heads],
            ("head", pa.string()),
            ("score", pa.float64()),
            ("threshold", pa.float64()),
            ("flag", pa.bool_()),
            ("flagged_by", pa.list_(pa.string())),
            ("reasons", pa.list_(FINDING)),
            ("context", MUSIC),  # null: no musical checks ran (nothing musical known about the take)
            ("standing", STANDING),  # null: no sibling takes were compared
            *_ERROR,
        ],
        metadata={JOB_KEY: json.dumps(job, sort_keys=True)},
    )


def embed_schema(dim: int, job: dict[str, Any]) -> pa.Schema:
    """`job` records the dimension, so a file with only failed rows still says it."""
    job = {**job, "dim": dim}
    return pa.schema(
        # a plain list: pyarrow reads back a fixed-size list with null rows (failed files) wrongly
        [*_COMMON, ("embedding", pa.list_(pa.float32())), *_ERROR],
        metadata={JOB_KEY: json.dumps(job, sort_keys=True)},
    )


def score_row(r: TakeResult, content_hash: str) -> dict[str, Any]:
    return {
        "path": r.path,
        "content_hash": content_hash,
        "duration_s": None if math.isnan(r.duration_s) else r.duration_s,
        "region": list(r.region) if r.region else None,  # kept only by a schema with_region
        "silent": r.silent,
        **{f"score_{h}": s for h, s in r.head_scores.items()},
        "head": r.head,
        "score": r.score,
        "threshold": r.threshold,
        "flag": r.flag,
        "flagged_by": r.flagged_by,
        "reasons": [f.__dict__ for f in r.reasons],
        "context": r.context,
        "standing": asdict(r.standing) if r.standing else None,
    }


def embed_row(path: str, content_hash: str, duration_s: float, vector: np.ndarray) -> dict[str, Any]:
    return {"path": path, "content_hash": content_hash, "duration_s": duration_s, "embedding": vector}


def error_row(path: str, content_hash: str, code: str, message: str) -> dict[str, Any]:
    """A file that failed: its path (and hash when it could be read), why, and nulls elsewhere."""
    return {"path": path, "content_hash": content_hash or None, "error_code": code, "error_message": message}


class ResultStore:
    """One `--out` Parquet file and its folder of part files (see the module docstring)."""

    def __init__(self, out: Path, schema: pa.Schema) -> None:
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.schema = schema
        self.job = schema.metadata[JOB_KEY]
        self._run = time.time_ns()
        self._seq = 0
        self._written: list[Path] = []  # this run's parts not yet compacted
        for source in self._sources():
            self._check(source)

    def _sources(self) -> list[Path]:
        parts = sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []
        return ([self.out] if self.out.exists() else []) + parts

    def _check(self, path: Path) -> None:
        """Refuse to mix jobs: another model, encoder or threshold in the same --out would give mixed rows."""
        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowInvalid) as exc:
            raise LoopbridgeError(f"{path} exists and is not a Parquet file; choose another --out", "exists") from exc
        if JOB_KEY not in meta:
            raise LoopbridgeError(f"{path} is not a loopbridge results file; choose another --out", "exists")
        if meta[JOB_KEY] != self.job:
            raise LoopbridgeError(
                f"{path} holds results of another job ({meta[JOB_KEY].decode()}); this one is {self.job.decode()}: "
                "choose another --out",
                "exists",
            )

    def done(self) -> set[tuple[str, str]]:
        """(path, content hash) of every row already written; a file that could not be read has no hash, so it is retried."""
        out: set[tuple[str, str]] = set()
        for source in self._sources():
            t = pq.read_table(source, columns=["path", "content_hash"])
            out.update((p, h) for p, h in zip(t["path"].to_pylist(), t["content_hash"].to_pylist(), strict=False) if h)
        return out

    def write_part(self, table: pa.Table) -> None:
        """One finished block of rows, whole or not at all; every COMPACT_EVERY parts become one, so folders stay small."""
        self._written.append(self._write(table, self._seq))
        self._seq += 1
        if len(self._written) >= COMPACT_EVERY:
            merged = pa.concat_tables(pq.read_table(p) for p in self._written)
            self._write(merged, self._seq)  # the same rows twice until the unlinks below: the merge keeps one
            self._seq += 1
            for p in self._written:
                p.unlink()
            self._written = []

    def _write(self, table: pa.Table, seq: int) -> Path:
        self.parts.mkdir(parents=True, exist_ok=True)
        final = self.parts / f"part-{self._run}-{seq:08d}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        pq.write_table(table.cast(self.schema), tmp)
        os.replace(tmp, final)
        return final

    def merge(self) -> int:
        """Previous results plus all parts → one file, the newest row per path winning; returns its row count."""
        sources = self._sources()
        if not sources:
            return 0
        winner: dict[str, tuple[int, int]] = {}
        for s, source in enumerate(sources):
            for i, p in enumerate(pq.read_table(source, columns=["path"])["path"].to_pylist()):
                winner[p] = (s, i)
        tmp = self.out.with_name(self.out.name + ".tmp")
        rows = 0
        with pq.ParquetWriter(tmp, self.schema) as writer:
            for s, source in enumerate(sources):
                for offset, batch in _batches(source):
                    paths = batch["path"].to_pylist()
                    keep = [winner[p] == (s, offset + i) for i, p in enumerate(paths)]
                    if any(keep):
                        kept = pa.Table.from_batches([batch]).filter(pa.array(keep))
                        writer.write_table(kept.cast(self.schema))
                        rows += kept.num_rows
        os.replace(tmp, self.out)
        for part in sources[1 if sources[0] == self.out else 0 :]:
            part.unlink()
        for stale in self.parts.glob("*.tmp") if self.parts.is_dir() else []:
            stale.unlink()  # a part cut short by a kill: its rows were never counted as written
        if self.parts.is_dir():
            self.parts.rmdir()
        return rows


def _batches(path: Path) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Row offset and batch, streaming, so merging a million embeddings needs no more memory than a batch."""
    offset = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
        yield offset, batch
        offset += batch.num_rows


def read_embeddings(path: Path) -> Embeddings:
    """`embed --engine ray` results as Embeddings (rows with an error left out), for `fit`/`score`/`report`."""
    from ..extras import require

    require("ray", f"reading {path}", ("pyarrow",))
    try:
        meta = json.loads((pq.read_schema(path).metadata or {}).get(JOB_KEY, b"{}"))
        t = pq.read_table(path, columns=["path", "duration_s", "embedding", "error_code"])
    except (OSError, KeyError, ValueError, pa.ArrowInvalid) as exc:
        raise LoopbridgeError(
            f"{path}: not an embeddings Parquet from `loopbridge embed --engine ray` ({exc})", "bad_embeddings"
        ) from exc
    if meta.get("kind") != "embed":
        raise LoopbridgeError(
            f"{path}: not an embeddings Parquet from `loopbridge embed --engine ray`", "bad_embeddings"
        )
    t = t.filter(pc.is_null(t["error_code"]))  # type: ignore[attr-defined]  # pyarrow.compute is generated
    dim = int(meta["dim"])
    flat = t["embedding"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return Embeddings(
        flat.astype(np.float32).reshape(t.num_rows, dim),
        [str(p) for p in t["path"].to_pylist()],
        t["duration_s"].to_numpy(zero_copy_only=False).astype(np.float64),
        meta.get("encoder", ""),
        meta.get("encoder_name", ""),
    )


def read_results(path: Path, model: str, thresholds: dict[str, float]) -> tuple[list[TakeResult], list[EmbedFailure]]:
    """`score --engine ray` results back as TakeResults and failures (for `evaluate --results`); refuses results
    of another model or other thresholds, whose flags would not be this model's."""
    from ..extras import require

    require("ray", f"reading {path}", ("pyarrow",))
    try:
        meta = json.loads((pq.read_schema(path).metadata or {}).get(JOB_KEY, b"{}"))
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise LoopbridgeError(
            f"{path}: not a results Parquet from `loopbridge score --engine ray` ({exc})", "bad_results"
        ) from exc
    if meta.get("kind") != "score":
        raise LoopbridgeError(f"{path}: not a results Parquet from `loopbridge score --engine ray`", "bad_results")
    mine = {h: round(t, 12) for h, t in sorted(thresholds.items())}
    if meta.get("model") != model or meta.get("thresholds") != mine:
        raise LoopbridgeError(
            f"{path} holds results of model '{meta.get('model')}' with other thresholds; score again", "bad_results"
        )
    results, failures = [], []
    for r in rows:
        if r["error_code"]:
            failures.append(EmbedFailure(r["path"], LoopbridgeError(r["error_message"], r["error_code"])))
            continue
        scores = {h: r[f"score_{h}"] for h in thresholds}
        results.append(
            TakeResult(
                path=r["path"],
                model=model,
                duration_s=r["duration_s"],
                head=r["head"],
                score=r["score"],
                threshold=r["threshold"],
                head_flag=bool(r["score"] > r["threshold"]),  # as Scorer.score_embeddings decides
                head_scores=scores,
                head_thresholds=dict(thresholds),
                reasons=[Finding(**f) for f in r["reasons"]],
                silent=r["silent"],
                region=tuple(r["region"]) if r.get("region") else None,
                context=r["context"],
                standing=Standing(**r["standing"]) if r["standing"] else None,
            )
        )
    return results, failures
