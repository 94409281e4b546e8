"""Server test helpers: a tiny real model bundle (mel-stats + shallow heads), an OSC peer on 127.0.0.1."""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tone, write_audio
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

MODEL = "testmodel"
TERMINAL = {"/loopbridge/result", "/loopbridge/error", "/loopbridge/done"}
FAST_HEADS = ("knn", "mahalanobis")


def write_library(folder: Path, n: int = 16, seconds: float = 2.0) -> list[Path]:
    """Plucked tones across a few pitches and levels: a 'normal' the heads can learn in a second."""
    return [
        write_audio(
            folder / f"loop_{i:02d}.wav",
            tone(seconds, freq=110.0 * (1 + (i % 4) / 4), amp=0.3 + 0.05 * (i % 3), seed=i),
        )
        for i in range(n)
    ]


def fit_model(library: list[Path], dest: Path, name: str = "testmodel", heads: tuple[str, ...] = FAST_HEADS) -> Path:
    """A real bundle through B's fit API on the weight-free mel-stats encoder (needs LOOPBRIDGE_HOME set)."""
    from loopbridge import audio, checks
    from loopbridge.encoders import Encoder
    from loopbridge.export.fit import FitOptions, encoder_ref, fit_heads, save_bundle

    encoder = Encoder.open("mel-stats")
    clips = [audio.load(p) for p in library]
    detectors = fit_heads(encoder.embed_clips(clips), FitOptions(heads=heads, progress=False))
    calibration = checks.calibrate(
        c.native for c in clips
    )  # as `loopbridge fit` does: the library's own hiss is normal
    return save_bundle(dest, name, detectors, encoder_ref(encoder), {"files": len(library)}, calibration)


_fitted: dict[str, tuple[Path, Path]] = {}  # this module is imported once: every server test file shares the model


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(bundle folder, encoder ONNX) fitted once per session; the bundle sits in that home's models folder."""
    if MODEL not in _fitted:
        root = tmp_path_factory.mktemp("server_model")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LOOPBRIDGE_HOME", str(root / "home"))
            from loopbridge.encoders import Encoder

            bundle = fit_model(write_library(root / "library"), root / "home" / "data" / "models" / MODEL, MODEL)
            _fitted[MODEL] = bundle, Encoder.open("mel-stats").path
    return _fitted[MODEL]


def make_scorer(model_files: tuple[Path, Path]):
    from loopbridge.bundle import Bundle
    from loopbridge.encoders import Encoder
    from loopbridge.pipeline import Scorer

    bundle, encoder = model_files
    return Scorer(Bundle.load(bundle), Encoder(encoder))


def noise_take(path: Path, seconds: float = 2.0, seed: int = 99) -> Path:
    """Loud broadband noise: far from plucked tones in any embedding."""
    rng = np.random.default_rng(seed)
    return write_audio(path, (0.9 * rng.uniform(-1, 1, int(seconds * 48_000))).astype(np.float32))


class OscPeer:
    """A client as a DAW would be one: sends from a random port (python-osc), listens on its own reply port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server: tuple[str, int] | None = None
        self.client: SimpleUDPClient | None = None
        self.inbox: list[tuple[str, list[Any]]] = []

    def talk_to(self, server: tuple[str, int]) -> OscPeer:
        self.server = server
        self.client = SimpleUDPClient(server[0], server[1])
        return self

    def send(self, address: str, *args: Any) -> None:
        self.client.send_message(address, list(args))

    def send_raw(self, data: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(data, self.server)

    def receive(
        self, until: Callable[[list[tuple[str, list[Any]]]], bool], timeout: float = 30.0
    ) -> list[tuple[str, list[Any]]]:
        """Collect replies until `until(inbox)` holds; fails with what arrived if the timeout passes."""
        deadline = time.monotonic() + timeout
        while not until(self.inbox):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; received so far: {self.inbox}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            msg = OscMessage(data)
            self.inbox.append((msg.address, list(msg.params)))
        return self.inbox

    def for_id(self, rid: Any) -> list[tuple[str, list[Any]]]:
        return [m for m in self.inbox if m[1] and m[1][0] == rid and m[0] != "/loopbridge/pong"]

    def terminal(self, rid: Any, timeout: float = 30.0, batch: bool = False) -> tuple[str, list[Any]]:
        """Wait for the one terminal reply of request `rid` (a batch ends only with `done`) and return it."""
        ends = {"/loopbridge/done", "/loopbridge/error"} if batch else TERMINAL
        self.receive(lambda box: any(a in ends and p and p[0] == rid for a, p in box), timeout)
        return next(m for m in self.inbox if m[0] in ends and m[1][0] == rid)

    def next_of(self, address: str, timeout: float = 30.0) -> list[Any]:
        """Wait for the first message at `address` not taken yet, and take it from the inbox."""
        self.receive(lambda box: any(a == address for a, _ in box), timeout)
        i = next(i for i, m in enumerate(self.inbox) if m[0] == address)
        return self.inbox.pop(i)[1]

    def close(self) -> None:
        self.sock.close()
        if self.client is not None:
            self.client.close()


# ---- `loopbridge serve` and liblo as separate processes ---------------------------------------------


def lines_of(stream) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_for_line(q: queue.Queue, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if m := re.search(pattern, line):
            return m
    raise AssertionError(f"no line matching {pattern!r}; got:\n{''.join(seen)}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server_process(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, int, queue.Queue]:
    """`loopbridge serve --port 0 ARGS` and the port it reports; its stderr lines keep flowing into the queue."""
    proc = start_process([sys.executable, "-m", "loopbridge", "serve", "--port", "0", *args], env)
    err = lines_of(proc.stderr)
    port = int(wait_for_line(err, r"listening on 127\.0\.0\.1:(\d+)", 90, []).group(1))
    return proc, port, err
