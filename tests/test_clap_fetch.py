"""`loopbridge encoder fetch` against a Hugging Face stand-in on 127.0.0.1 (huggingface_hub honours HF_ENDPOINT).

The server speaks the part of the Hub protocol hf_hub_download uses: HEAD for metadata (X-Repo-Commit,
ETag, Content-Length) and GET with Range for resuming.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_clap import exported

from loopbridge import encoders, features
from loopbridge.cli import main
from loopbridge.encoders import PRESETS, Encoder, encoder_path
from loopbridge.hashing import file_sha256
from loopbridge.paths import checkpoints_dir

PRESET = "clap-htsat-fused"
COMMIT = "a" * 40


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, payload: bytes, etag: str, cut_first_gets: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.payload = payload
        self.etag = etag  # the Hub's ETag of an LFS file is its sha256
        self.cut_first_gets = cut_first_gets
        self.gets: list[str | None] = []  # the Range header of every GET

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _resolve(self) -> bool:
        want = f"/{PRESETS[PRESET].repo_id}/resolve/main/{PRESETS[PRESET].filename}"
        if self.path.split("?")[0] != want:
            self.send_error(404)
            return False
        return True

    def _common_headers(self, length: int) -> None:
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{self.server.etag}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))

    def do_HEAD(self) -> None:
        if self._resolve():
            self.send_response(200)
            self._common_headers(len(self.server.payload))
            self.end_headers()

    def do_GET(self) -> None:
        if not self._resolve():
            return
        data, rng = self.server.payload, self.headers.get("Range")
        self.server.gets.append(rng)
        start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else 0
        self.send_response(206 if start else 200)
        self._common_headers(len(data) - start)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if len(self.server.gets) <= self.server.cut_first_gets:
            self.wfile.write(data[start : start + (len(data) - start) // 2])  # connection drops halfway
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data[start:])


@pytest.fixture
def hub(lb_home: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[FakeHub]:
    """Serves the random-weight checkpoint; `request.param` says how: "interrupted" (first transfer
    drops halfway), "corrupt" (damaged bytes, preset pins the intact file's sha256 and size) or
    "corrupt-unpinned" (damaged bytes, preset pins nothing: the Hub's ETag is all we have)."""
    art = exported(PRESET)
    payload = art.checkpoint.read_bytes()
    sha256 = file_sha256(art.checkpoint)
    mode = request.param
    pinned = None if mode == "corrupt-unpinned" else sha256
    expected = dataclasses.replace(PRESETS[PRESET], sha256=pinned, size=len(payload) if pinned else None)
    monkeypatch.setitem(PRESETS, PRESET, expected)
    if mode.startswith("corrupt"):
        payload = payload[:1000] + bytes(b ^ 0xFF for b in payload[1000:1100]) + payload[1100:]
    server = FakeHub(payload, sha256, cut_first_gets=1 if mode == "interrupted" else 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("hub", ["interrupted"], indirect=True)
def test_interrupted_download_resumes_then_exports_a_working_encoder(hub: FakeHub, capsys) -> None:
    assert main(["encoder", "fetch", "--preset", PRESET]) == 0
    assert hub.gets[0] is None
    assert hub.gets[1]
    assert hub.gets[1].startswith("bytes=")
    checkpoint = checkpoints_dir() / PRESETS[PRESET].filename
    assert file_sha256(checkpoint) == PRESETS[PRESET].sha256
    assert encoder_path(PRESET).is_file()
    assert str(encoder_path(PRESET)) in capsys.readouterr().out

    encoder = Encoder.open()  # the default: CLAP, now that it is installed
    assert encoder.name == PRESET
    assert encoder.random_weights
    clips = [features.fusion_input(np.sin(np.arange(s * 48_000) * 0.05).astype(np.float32)) for s in (2, 15)]
    inputs = features.batch(clips)
    want = (
        exported(PRESET)
        .tower.reference_embedding(
            {"mel_fusion": torch.from_numpy(inputs["mel_fusion"]), "longer": torch.from_numpy(inputs["longer"])}
        )
        .numpy()
    )
    got = encoder.embed_inputs(inputs)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()

    assert main(["encoder", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(rf"{PRESET}\s+768\s+\d+\.\d MB\s+-\s+\d+\.\d MB", listing), listing


@pytest.mark.parametrize("hub", ["corrupt", "corrupt-unpinned"], indirect=True)
def test_corrupt_download_is_rejected_and_not_kept(hub: FakeHub, capsys) -> None:
    assert main(["encoder", "fetch", "--preset", PRESET]) == 2
    err = capsys.readouterr().err
    assert "wrong sha256" in err
    assert "fetch" in err
    assert not (checkpoints_dir() / PRESETS[PRESET].filename).exists()
    assert not encoder_path(PRESET).exists()
    assert encoders.resolve(None).name == "mel-stats.onnx"  # nothing half-installed is picked up


def test_unreachable_hub_is_a_clear_error(lb_home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    import huggingface_hub.utils._http as hf_http

    monkeypatch.setattr(hf_http.time, "sleep", lambda seconds: None)  # skip huggingface_hub's own back-off
    assert main(["encoder", "fetch"]) == 2
    err = capsys.readouterr().err
    assert "could not download 630k-audioset-fusion-best.pt" in err
    assert "encoder export --checkpoint" in err
    assert not any(checkpoints_dir().glob("*.pt"))
