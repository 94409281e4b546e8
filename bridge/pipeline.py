"""Takes → scores and flags with one model bundle; the CLI and the OSC server both score through here."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import audio, checks
from .bundle import Bundle
from .context import TakeContext
from .embedding import EmbedFailure
from .encoders import Encoder
from .errors import LoopbridgeError, ModelError
from .limits import BATCH_SIZE
from .results import TakeResult

LONG_TAKE_S = 120.0  # a take longer than this is judged in blocks, so memory does not grow with its length
BLOCK_S = 30.0
MAX_LONG_REASONS = 12


class Scorer:
    """A bundle plus the one encoder its heads were trained on (opened on first use, or given)."""

    def __init__(
        self, bundle: Bundle | str | Path, encoder: Encoder | None = None, batch_size: int = BATCH_SIZE
    ) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        self.batch_size = batch_size
        self._checks_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopbridge-checks")
        self._encoder = None
        if encoder is not None:
            self.check_encoder(encoder)
            self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            ref = self.bundle.encoder
            if ref.preset is None:
                raise ModelError(
                    f"model '{self.bundle.name}' was fitted on plain embeddings with no known encoder; "
                    "it can only score embeddings (`loopbridge score --embeddings FILE`)"
                )
            encoder = Encoder.open(ref.preset)
            self.check_encoder(encoder)
            self._encoder = encoder
        return self._encoder

    def check_encoder(self, encoder: Encoder) -> None:
        """Refuse an encoder whose embeddings the heads were not trained on."""
        ref, name = self.bundle.encoder, self.bundle.name
        if ref.preset is not None and encoder.name != ref.preset:
            raise ModelError(f"model '{name}' was fitted with encoder '{ref.preset}', not '{encoder.name}'")
        if encoder.dim != ref.dim:
            raise ModelError(
                f"model '{name}' expects {ref.dim}-dimensional embeddings; encoder '{encoder.name}' gives {encoder.dim}"
            )
        if ref.id is not None and encoder.id != ref.id:
            raise ModelError(
                f"model '{name}' was fitted with a different '{ref.preset}' encoder file ({ref.id}, now {encoder.id}); "
                "fit the model again with this encoder"
            )

    def check_embedding_source(self, encoder_id: str) -> None:
        """For saved embeddings: refuse ones made by another encoder (an empty id means unknown, as for .npy)."""
        ref = self.bundle.encoder
        if encoder_id and ref.id and encoder_id != ref.id:
            raise ModelError(
                f"these embeddings come from encoder {encoder_id}; model '{self.bundle.name}' was fitted on {ref.id}"
            )

    def score_embeddings(
        self,
        X: np.ndarray,
        files: list[str] | None = None,
        durations: np.ndarray | None = None,
        silent: list[bool] | None = None,
    ) -> list[TakeResult]:
        scores = self.bundle.scores(X)
        n = len(next(iter(scores.values())))
        files = files or [f"row {i}" for i in range(n)]
        durations = np.full(n, np.nan) if durations is None else durations
        primary, thresholds = self.bundle.primary, dict(self.bundle.thresholds)
        return [
            TakeResult(
                path=files[i],
                model=self.bundle.name,
                duration_s=float(durations[i]),
                head=primary,
                score=float(scores[primary][i]),
                threshold=thresholds[primary],
                head_flag=bool(scores[primary][i] > thresholds[primary]),
                head_scores={h: float(s[i]) for h, s in scores.items()},
                head_thresholds=thresholds,
                silent=bool(silent[i]) if silent else False,
            )
            for i in range(n)
        ]

    def score_clips(
        self,
        clips: Sequence[audio.Clip],
        contexts: Sequence[TakeContext | None] | None = None,
        *,
        embeddings: list[np.ndarray] | None = None,
    ) -> list[TakeResult]:
        """Heads on the encoder's embedding, checks on the audio as recorded (calibrated by the bundle).

        `contexts` (one per clip, or None) is what the caller knows about each take: tempo, key, region, siblings.
        `embeddings`, when given, gets each result's embedding appended in the results' order (the browse map
        places the takes by them without embedding anything twice).
        """
        clips = list(clips)
        ctxs = _one_per(contexts, len(clips), "clip")
        results: list[TakeResult] = []
        for start in range(0, len(clips), self.batch_size):
            chunk = clips[start : start + self.batch_size]
            chunk_ctx = ctxs[start : start + self.batch_size]
            # the checks run beside the front-end and encoder (numpy and ONNX Runtime both release the GIL)
            reports = self._checks_pool.map(
                lambda c, ctx: checks.check_take(c.native, self.bundle.checks, context=ctx), chunk, chunk_ctx
            )
            X = self.encoder.embed_clips(chunk)
            if embeddings is not None:
                embeddings.extend(X)
            scored = self.score_embeddings(
                X,
                [c.path for c in chunk],
                np.array([c.duration_s for c in chunk]),
                [c.is_silent for c in chunk],
            )
            results += [judged(r, report, c.region) for r, report, c in zip(scored, reports, chunk, strict=True)]
        return results

    def score_files(
        self,
        paths: Sequence[str | Path],
        max_seconds: float = audio.DEFAULT_MAX_SECONDS,
        contexts: Sequence[TakeContext | None] | None = None,
        *,
        embeddings: list[np.ndarray] | None = None,
    ) -> tuple[list[TakeResult], list[EmbedFailure]]:
        """Files and folders, each with its context (a folder's files share it; its region applies to each).

        A file that can't be read is listed as a failure and the rest are scored. `embeddings`: as in score_clips
        (a long take's is that of its worst block).
        """
        results: list[TakeResult] = []
        failures: list[EmbedFailure] = []
        pending: list[tuple[audio.Clip, TakeContext | None]] = []
        todo = [
            (f, ctx)
            for p, ctx in zip(paths, _one_per(contexts, len(paths), "path"), strict=True)
            for f in audio.expand_paths([p])
        ]
        for i, (path, ctx) in enumerate(todo):
            region = ctx.region if ctx else None
            try:
                span = audio.probe(path, max_seconds, region)
                if span[1] - span[0] > LONG_TAKE_S:
                    results.append(self.score_long(path, max_seconds, ctx, embeddings=embeddings, span=span))
                else:
                    pending.append((audio.load(path, max_seconds, region), ctx))
            except LoopbridgeError as exc:  # audio reports OS errors as AudioError too
                failures.append(EmbedFailure(str(path), exc))
            if len(pending) == self.batch_size or (i == len(todo) - 1 and pending):
                results += self.score_clips([c for c, _ in pending], [ctx for _, ctx in pending], embeddings=embeddings)
                pending = []
        return results, failures

    def score_long(
        self,
        path: str | Path,
        max_seconds: float = audio.DEFAULT_MAX_SECONDS,
        context: TakeContext | None = None,
        *,
        embeddings: list[np.ndarray] | None = None,
        span: tuple[float, float] | None = None,
    ) -> TakeResult:
        """A long take judged block by block (BLOCK_S): memory is one block's, the verdict the worst block's.

        Each head's score is its highest over the blocks; reasons keep their place in the take (seconds from the
        start of the take or its region), worst first. `embeddings`, when given, gets the worst block's appended.
        `span`: the (start_s, end_s) `audio.probe` gave a caller that has read the header already (else read here).
        """
        region = context.region if context else None
        blocks: list[TakeResult] = []
        vectors: list[np.ndarray] = []
        if span is None:
            span = audio.probe(path, max_seconds, region)
        origin = span[0]
        for clip in audio.load_blocks(path, span, BLOCK_S):
            (result,) = self.score_clips([clip], [context], embeddings=vectors)
            offset = clip.region[0] - origin if clip.region else 0.0
            result.reasons = [replace(f, start_s=f.start_s + offset) for f in result.reasons]
            blocks.append(result)
        at = max(range(len(blocks)), key=lambda i: blocks[i].score)
        worst = blocks[at]
        if embeddings is not None:
            embeddings.append(vectors[at])
        reasons = sorted((f for r in blocks for f in r.reasons), key=lambda f: -f.severity)
        return replace(
            worst,
            path=str(path),
            duration_s=sum(r.duration_s for r in blocks),
            head_flag=any(r.head_flag for r in blocks),
            head_scores={h: max(r.head_scores[h] for r in blocks) for h in worst.head_scores},
            reasons=reasons[:MAX_LONG_REASONS],
            silent=all(r.silent for r in blocks),
            region=None if region is None else (origin, origin + sum(r.duration_s for r in blocks)),
        )


def judged(result: TakeResult, report: checks.CheckReport, region: tuple[float, float] | None = None) -> TakeResult:
    """The heads' result joined with the take's checks, as every scoring path does (here and on Ray): the
    findings become its reasons, with the musical context they were judged in and its standing among siblings."""
    result.reasons = report.findings
    result.context = report.music
    result.standing = report.standing
    result.region = region
    return result


def _one_per(contexts: Sequence[TakeContext | None] | None, n: int, what: str) -> list[TakeContext | None]:
    if contexts is None:
        return [None] * n
    if len(contexts) != n:
        raise ValueError(f"{len(contexts)} contexts for {n} {what}s: give one per {what}")
    return list(contexts)
