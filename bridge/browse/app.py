"""The browse app: a JSON API and one page over a Catalog, served by Starlette (the `browse` extra).

Audio is streamed only from the allowed roots (the folders the user passed, the model's training folders and
the upload folder), with HTTP Range so the browser can seek. Uploads go into a temporary folder, are limited in
size, must decode as audio, and are scored by the same Scorer as `loopbridge score`.
"""

from __future__ import annotations

import mimetypes
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..bundle import DEFAULT_QUANTILE
from ..checks import KINDS
from ..errors import LoopbridgeError
from .catalog import Catalog
from .files import BadRange, Forbidden, parse_range, resolve_allowed
from .stats import library_stats
from .waveform import peaks

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _file_chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        left = end - start + 1
        while left > 0:
            block = f.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


def create_app(
    catalog: Catalog, roots: list[Path], upload_root: Path, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> Starlette:
    """The app for one catalog; `roots` are the folders (or files) audio may be served from, uploads go to
    `upload_root` (a temporary folder the caller removes)."""
    allowed = [*roots, upload_root]

    def data(_: Request) -> JSONResponse:
        b = catalog.bundle
        quantile = b.quantiles[b.primary]
        with catalog.lock:
            takes = [catalog.take_json(i) for i in range(len(catalog.takes))]
        return JSONResponse(
            {
                "model": b.name,
                "primary": b.primary,
                "heads": b.heads,
                "quantile": quantile,
                "thresholds": dict(b.thresholds),
                "map": catalog.projection.method,
                "kinds": [b.primary, *KINDS],
                "takes": takes,
                "library": [catalog.library_json(j) for j in range(len(catalog.library))],
                "max_upload_bytes": max_upload_bytes,
            }
        )

    def sensitivity(request: Request) -> JSONResponse:
        try:
            quantile = float(request.query_params.get("quantile", DEFAULT_QUANTILE))
            return JSONResponse({"quantile": quantile, "thresholds": catalog.set_sensitivity(quantile)})
        except (ValueError, LoopbridgeError) as exc:
            return _error(400, getattr(exc, "message", str(exc)))

    def take(request: Request) -> JSONResponse:
        i = int(request.path_params["id"])
        if not 0 <= i < len(catalog.takes):
            return _error(404, f"no take {i}")
        try:
            wave: dict[str, Any] | None = peaks(catalog.takes[i].path)
        except LoopbridgeError as exc:
            wave = {"error": exc.message}
        return JSONResponse({**catalog.take_json(i), "waveform": wave, "neighbours": catalog.neighbours(i)})

    def stats(_: Request) -> JSONResponse:
        lib = catalog.library
        with catalog.lock:
            take_paths = [t.path for t in catalog.takes]
            take_durations = [t.duration_s for t in catalog.takes]
        return JSONResponse(
            {"library": library_stats(lib.files, lib.durations), "takes": library_stats(take_paths, take_durations)}
        )

    def audio_file(request: Request) -> Response:
        try:
            path = resolve_allowed(request.query_params.get("path", ""), allowed)
        except Forbidden:
            return _error(403, "that file is outside the folders this app may serve")
        except FileNotFoundError:
            return _error(404, "no such file")
        size = path.stat().st_size
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            span = parse_range(request.headers.get("range"), size)
        except BadRange:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if span is None:
            return FileResponse(path, media_type=media, headers={"Accept-Ranges": "bytes"})
        start, end = span
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Range": f"bytes {start}-{end}/{size}",
            "Content-Length": str(end - start + 1),
        }
        return StreamingResponse(_file_chunks(path, start, end), status_code=206, media_type=media, headers=headers)

    async def upload(request: Request) -> JSONResponse:
        name = _SAFE_NAME.sub("_", Path(request.query_params.get("name", "upload")).name).strip() or "upload"
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_upload_bytes:
            return _error(413, f"file is larger than {max_upload_bytes // 1_000_000} MB")
        dest = Path(tempfile.mkdtemp(dir=upload_root)) / name
        if not await _save_limited(request.stream(), dest, max_upload_bytes):
            dest.unlink(missing_ok=True)
            return _error(413, f"file is larger than {max_upload_bytes // 1_000_000} MB")
        results, vectors, failures = await run_in_threadpool(catalog.scorer.score, [dest])
        if failures or not results:
            dest.unlink(missing_ok=True)
            why = failures[0].error.message if failures else "no audio found"
            return _error(415, why)
        ids = catalog.add(results, vectors)
        return JSONResponse({"takes": [catalog.take_json(i) for i in ids]})

    async def index(_: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/data", data),
            Route("/api/sensitivity", sensitivity),
            Route("/api/take/{id:int}", take),
            Route("/api/stats", stats),
            Route("/api/upload", upload, methods=["POST"]),
            Route("/audio", audio_file),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


async def _save_limited(chunks: AsyncIterator[bytes], dest: Path, limit: int) -> bool:
    """Write the request body to `dest`; False (and stop reading) once it passes `limit` bytes."""
    written = 0
    with dest.open("wb") as f:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                return False
            f.write(chunk)
    return True
