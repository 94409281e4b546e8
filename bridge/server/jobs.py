"""What the worker does for a `score` (one take) and a `batch` (a clip track), and the replies each sends.

Every job sends exactly one terminal reply: a take `result` or `error`, a batch `done`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ..audio import DEFAULT_MAX_SECONDS, Clip, expand_paths
from ..context import TakeContext
from ..errors import AudioError, LoopbridgeError
from ..results import TakeResult
from . import files, protocol
from .protocol import Request
from .worker import BATCH, TAKE

Send = Callable[[bytes], None]

PROGRESS_EVERY_S = 0.5  # a batch reports at least this often (the protocol promises every second)


class ScorerLike(Protocol):
    """What the server needs of a model: loopbridge.pipeline.Scorer (bundle + encoder) fits."""

    bundle: Any  # name, primary, heads, thresholds, quantiles, set_quantile(q, head=None), encoder.preset

    def score_clips(
        self, clips: Sequence[Clip], contexts: Sequence[TakeContext | None] | None = None
    ) -> list[TakeResult]: ...

    def score_long(self, path: str | Path, max_seconds: float, context: TakeContext | None = None) -> TakeResult: ...


@dataclass
class Settings:
    """The server's fixed choices, shared by every job."""

    models: Mapping[str, ScorerLike]  # by name; the first is the default for `score` without a model
    allow_roots: list[Path] = field(default_factory=list)
    max_seconds: float = DEFAULT_MAX_SECONDS
    wait_s: float = files.DEFAULT_WAIT_S
    micro_batch: int = 8

    def scorer(self, name: str | None) -> ScorerLike:
        if name is None:
            return next(iter(self.models.values()))
        if name not in self.models:
            raise LoopbridgeError(
                f"no model '{name}' is loaded (loaded: {', '.join(self.models)})", protocol.UNKNOWN_MODEL
            )
        return self.models[name]


def send_result(send: Send, rid: protocol.RequestId, result: TakeResult, received: float) -> None:
    """The musical context judged against (when the musical checks ran), reasons, most severe first, the take's
    standing among its siblings (when they were compared), then the result that ends the take."""
    if result.context is not None:
        send(protocol.context(rid, result.context))
    for f in sorted(result.reasons, key=lambda f: -f.severity):
        send(protocol.reason(rid, f.kind, f.severity, f.start_s, f.duration_s, f.message))
    if (s := result.standing) is not None:
        send(protocol.compare(rid, s.rank, s.of, s.kind, s.departs_s, s.message))
    ms = (time.perf_counter() - received) * 1000.0
    send(protocol.result(rid, result.path, result.model, result.score, result.threshold, result.flag, ms))


class TakeJob:
    """One take: resolve, wait for Live to finish the file, score, reply."""

    priority = TAKE

    def __init__(self, request: Request, key: Hashable, send: Send, settings: Settings, received: float) -> None:
        self.request, self.key, self.send, self.settings, self.received = request, key, send, settings, received
        self.wall = time.time() - (time.perf_counter() - received)  # when it arrived, on the clock mtimes use
        self.watch: files.Watch | None = None
        self.context: TakeContext | None = None
        self.cancelled = False
        self.answered = False

    def step(self) -> float | None:
        rid, sent = self.request.id, self.request.paths[0]
        if self.cancelled:
            self._answer(protocol.error(rid, protocol.CANCELLED, "cancelled before it was scored"))
            return None
        try:
            if self.watch is None:
                self.settings.scorer(self.request.model)  # an unknown model is answered before any waiting
                path = files.resolve_request_path(sent, self.settings.allow_roots)
                self.context = self._context()
                region = self.context.region if self.context else None
                self.watch = files.Watch(path, self.settings.wait_s, self.settings.max_seconds, region, self.wall)
            clip = self.watch.poll()
            if clip is None:
                return files.RETRY_S
            scorer = self.settings.scorer(self.request.model)
            if isinstance(clip, files.LongTake):
                result = scorer.score_long(clip.path, self.settings.max_seconds, self.context)
            else:
                result = scorer.score_clips([clip], [self.context])[0]
        except AudioError as exc:
            self._answer(protocol.error(rid, exc.code, f"{sent}: {exc.reason}"))  # the path as sent, not its target
            return None
        except LoopbridgeError as exc:
            self._answer(protocol.error(rid, exc.code, exc.message))
            return None
        except OSError as exc:  # e.g. no permission to read it
            self._answer(protocol.error(rid, protocol.UNREADABLE, f"{sent}: cannot be read ({exc.strerror or exc})"))
            return None
        self.answered = True
        send_result(self.send, rid, _as_requested(result, sent), self.received)
        return None

    def _context(self) -> TakeContext | None:
        """The request's context with its siblings' paths resolved and held to --allow-root like the take's."""
        context = self.request.context
        if context is None or not context.siblings:
            return context
        roots = self.settings.allow_roots
        return replace(context, siblings=tuple(str(files.resolve_request_path(s, roots)) for s in context.siblings))

    def _answer(self, dgram: bytes) -> None:
        self.answered = True
        self.send(dgram)

    def cancel(self) -> bool:
        self.cancelled = not self.answered
        return self.cancelled

    def fail(self, exc: BaseException) -> None:
        self._answer(protocol.error(self.request.id, protocol.INTERNAL, f"could not score: {exc}"))


class BatchJob:
    """A clip track: every file, a micro-batch per step, progress at least every PROGRESS_EVERY_S."""

    priority = BATCH

    def __init__(self, request: Request, key: Hashable, send: Send, settings: Settings, received: float) -> None:
        self.request, self.key, self.send, self.settings, self.received = request, key, send, settings, received
        self.todo: list[tuple[str, Path | None]] | None = None  # (as named, resolved) per file
        self.position = 0
        self.n_scored = self.n_flagged = self.n_failed = 0
        self.cancelled = False
        self.finished = False
        self._lock = threading.Lock()  # progress from the heartbeat must never follow `done`
        self._last_progress = 0.0

    @property
    def total(self) -> int:
        return len(self.todo) if self.todo is not None else 0

    def step(self) -> float | None:
        if self.todo is None:
            self.todo, failed = self._expand()
            self._progress()
            for named, code, text in failed:
                self._file_failed(named, code, text)
        if self.cancelled or self.position >= len(self.todo):
            self._finish()
            return None
        chunk = self.todo[self.position : self.position + self.settings.micro_batch]
        clips: list[tuple[str, Clip | files.LongTake]] = []
        for named, resolved in chunk:
            if resolved is None:
                continue  # already reported while expanding
            try:
                clips.append((named, files.wait_and_load(resolved, self.settings.wait_s, self.settings.max_seconds)))
            except AudioError as exc:
                self._file_failed(named, exc.code, f"{named}: {exc.reason}")
            except OSError as exc:
                self._file_failed(named, protocol.UNREADABLE, f"{named}: cannot be read ({exc.strerror or exc})")
        for named, ready in clips:
            if isinstance(ready, files.LongTake):
                self._score_long(named, ready)
        self._score([(named, ready) for named, ready in clips if isinstance(ready, Clip)])
        self.position += len(chunk)
        self._progress()
        return 0.0

    def _expand(self) -> tuple[list[tuple[str, Path | None]], list[tuple[str, str, str]]]:
        """Folders become their audio files, named under the folder as sent; each is held to --allow-root.

        Returns what to score (None where it already failed) and the failures, reported after the first progress.
        """
        todo: list[tuple[str, Path | None]] = []
        failed: list[tuple[str, str, str]] = []

        def add(named: str) -> None:
            try:
                todo.append((named, files.resolve_request_path(named, self.settings.allow_roots)))
            except AudioError as exc:
                todo.append((named, None))
                failed.append((named, exc.code, f"{named}: {exc.reason}"))

        for raw in self.request.paths:
            add(raw)
            root = todo[-1][1]
            if root is None or not root.is_dir():
                continue
            todo.pop()
            named = [str(p) for p in expand_paths([Path(raw).expanduser()])]
            if not named:
                todo.append((raw, None))
                failed.append((raw, "empty", f"{raw}: folder holds no audio files"))
            for p in named:
                add(p)
        return todo, failed

    def _score(self, clips: list[tuple[str, Clip]]) -> None:
        if not clips:
            return
        scorer = self.settings.scorer(None)
        try:
            results = scorer.score_clips([c for _, c in clips])
        except LoopbridgeError as exc:
            if len(clips) == 1:
                self._file_failed(clips[0][0], exc.code, exc.message)
            else:  # find the file that fails, score the rest
                for one in clips:
                    self._score([one])
            return
        for (named, _), result in zip(clips, results, strict=False):
            send_result(self.send, self.request.id, _as_requested(result, named), self.received)
            self.n_scored += 1
            self.n_flagged += int(result.flag)

    def _score_long(self, named: str, take: files.LongTake) -> None:
        try:
            result = self.settings.scorer(None).score_long(take.path, self.settings.max_seconds)
        except LoopbridgeError as exc:
            self._file_failed(named, exc.code, exc.message)
            return
        send_result(self.send, self.request.id, _as_requested(result, named), self.received)
        self.n_scored += 1
        self.n_flagged += int(result.flag)

    def _file_failed(self, path: str, code: str, message: str) -> None:
        self.n_failed += 1
        self.send(protocol.file_error(self.request.id, path, code, message))

    def _progress(self) -> None:
        with self._lock:
            if not self.finished:
                self.send(protocol.progress(self.request.id, min(self.position, self.total), self.total))
                self._last_progress = time.monotonic()

    def heartbeat(self) -> None:
        """Called from the server's clock: keeps progress flowing while a long micro-batch runs."""
        if self.todo is not None and time.monotonic() - self._last_progress >= PROGRESS_EVERY_S:
            self._progress()

    def _finish(self) -> None:
        with self._lock:
            self.finished = True
            self.send(protocol.done(self.request.id, self.n_scored, self.n_flagged, self.n_failed))

    def cancel(self) -> bool:
        with self._lock:
            self.cancelled = not self.finished
            return self.cancelled

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.finished:
                return
        try:
            self._file_failed("", protocol.INTERNAL, f"batch stopped: {exc}")
        finally:  # the terminal `done` goes out even when the notice cannot
            self._finish()


def _as_requested(result: TakeResult, path: str) -> TakeResult:
    """Reply with the path as the client sent it, so it can match the reply to its clip."""
    return replace(result, path=path)
