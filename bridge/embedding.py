"""Files → embeddings, in encoder batches, with decoding overlapped with inference and bad files set aside."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import audio
from .cache import EmbeddingCache
from .encoders import Encoder
from .errors import LoopbridgeError
from .limits import BATCH_SIZE


@dataclass
class Embeddings:
    vectors: np.ndarray  # (N, D) float32
    files: list[str]
    durations: np.ndarray  # (N,) seconds
    encoder_id: str = ""
    encoder_name: str = ""

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, n: int, seed: int = 0) -> Embeddings:
        """n rows drawn without replacement (all when n >= len), in their original order; same seed, same rows."""
        if n >= len(self):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return Embeddings(
            self.vectors[keep], [self.files[i] for i in keep], self.durations[keep], self.encoder_id, self.encoder_name
        )


@dataclass(frozen=True)
class EmbedFailure:
    path: str
    error: LoopbridgeError


@dataclass
class _Prepared:
    path: Path
    inputs: dict[str, np.ndarray] | None = None
    duration_s: float = 0.0
    error: LoopbridgeError | None = None
    cached: np.ndarray | None = field(default=None, repr=False)


def _cached(cache: EmbeddingCache, path: Path):
    try:
        return cache.lookup(path)
    except OSError:  # unreadable: let audio.load name the problem
        return None


def _prepare(path: Path, encoder: Encoder, max_seconds: float, cache: EmbeddingCache | None) -> _Prepared:
    try:
        if cache is not None and path.is_file() and (hit := _cached(cache, path)) is not None:
            return _Prepared(path, duration_s=hit.duration_s, cached=hit.vector)
        clip = audio.load(path, max_seconds)
        return _Prepared(path, encoder.prepare(clip.samples), clip.duration_s)
    except LoopbridgeError as exc:
        return _Prepared(path, error=exc)


def embed_files(
    paths: list[Path],
    encoder: Encoder,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
    max_seconds: float = audio.DEFAULT_MAX_SECONDS,
    cache: EmbeddingCache | None = None,
) -> tuple[Embeddings, list[EmbedFailure]]:
    """Embed files in the given order; unreadable ones are returned as failures, never raised."""
    vectors: dict[int, np.ndarray] = {}
    durations: dict[int, float] = {}
    failures: list[EmbedFailure] = []
    pending: list[tuple[int, _Prepared]] = []

    def flush() -> None:
        if not pending:
            return
        out = encoder.embed_prepared([p.inputs for _, p in pending if p.inputs is not None])
        for (i, p), vec in zip(pending, out, strict=False):
            vectors[i] = vec
            if cache is not None:
                cache.store(p.path, vec, p.duration_s)
        bar.update(len(pending))
        pending.clear()

    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        tqdm(total=len(paths), disable=not progress, unit="file", desc=f"embedding ({encoder.name})") as bar,
    ):
        window: deque[tuple[int, Future[_Prepared]]] = deque()
        for i, path in enumerate(paths):
            window.append((i, pool.submit(_prepare, Path(path), encoder, max_seconds, cache)))
            # decode at most two batches ahead: bounded memory, and the encoder never waits on the disk
            while len(window) > 2 * batch_size or (i == len(paths) - 1 and window):
                j, fut = window.popleft()
                prepared = fut.result()
                if prepared.error is not None:
                    failures.append(EmbedFailure(str(prepared.path), prepared.error))
                    bar.update(1)
                    continue
                durations[j] = prepared.duration_s
                if prepared.cached is not None:
                    vectors[j] = prepared.cached
                    bar.update(1)
                    continue
                pending.append((j, prepared))
                if len(pending) >= batch_size:
                    flush()
        flush()

    order = sorted(vectors)
    dim = encoder.dim
    return (
        Embeddings(
            np.stack([vectors[i] for i in order]) if order else np.zeros((0, dim), np.float32),
            [str(paths[i]) for i in order],
            np.array([durations[i] for i in order], dtype=np.float64),
            encoder.id,
            encoder.name,
        ),
        failures,
    )


def save_embeddings(emb: Embeddings, path: Path) -> None:
    np.savez(
        path,
        embeddings=emb.vectors,
        files=np.array(emb.files, dtype=str),
        durations=emb.durations,
        encoder_id=np.array(emb.encoder_id),
        encoder_name=np.array(emb.encoder_name),
    )


def load_embeddings(path: str | Path) -> Embeddings:
    """An .npz from `loopbridge embed` (.parquet with `--engine ray`), or a plain .npy matrix (encoder unknown)."""
    p = Path(path)
    if not p.is_file():
        raise LoopbridgeError(f"{p}: embeddings file not found", "missing")
    if p.suffix == ".parquet":  # from `loopbridge embed --engine ray`
        from .scale.output import read_embeddings

        emb = read_embeddings(p)
    else:
        emb = _load_numpy(p)
    if emb.vectors.ndim != 2 or len(emb.vectors) == 0:
        raise LoopbridgeError(f"{p}: expected a non-empty 2-D matrix, got shape {emb.vectors.shape}", "bad_embeddings")
    bad = np.flatnonzero(~np.isfinite(emb.vectors).all(axis=1))
    if bad.size:
        raise LoopbridgeError(
            f"{p}: {bad.size} row(s) contain NaN or inf (first: {emb.files[bad[0]]})", "bad_embeddings"
        )
    emb.vectors = emb.vectors.astype(np.float32, copy=False)
    return emb


def _load_numpy(p: Path) -> Embeddings:
    try:
        if p.suffix == ".npy":
            vectors = np.load(p, allow_pickle=False)
            emb = Embeddings(vectors, [f"row {i}" for i in range(len(vectors))], np.full(len(vectors), np.nan))
        else:
            with np.load(p, allow_pickle=False) as z:
                vectors = z["embeddings"]
                emb = Embeddings(
                    vectors,
                    [str(f) for f in z["files"]],
                    z["durations"],
                    str(z["encoder_id"]),
                    str(z["encoder_name"]),
                )
    except (ValueError, KeyError, OSError) as exc:
        raise LoopbridgeError(
            f"{p}: not an embeddings file (expected .npz from `loopbridge embed` or a 2-D .npy): {exc}",
            "bad_embeddings",
        ) from exc
    return emb
