"""A real local Ray cluster for the scale-out tests, and the library they score."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from conftest import write_audio
from helpers_heads import write_loops, write_noise

RAY = str(Path(sys.executable).with_name("ray"))
LOOPBRIDGE = [sys.executable, "-m", "loopbridge"]
# Ray 2.5x turns on token authentication for new clusters; a throw-away cluster on 127.0.0.1 needs none.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
BAD_FILES = ("bad/not_audio.wav", "bad/empty.wav", "bad/header_only.wav", "bad/nan.wav")
# loops whose names say a tempo and key, so the musical checks judge them (bass_120bpm_Em: a 160 BPM loop, late)
NAMED = ("named/bass_120bpm_Em.wav", "named/keys_160bpm_Am.wav", "named/lead_160bpm_Cmaj.wav")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ray_head(tmp: Path, num_cpus: int = 2, num_gpus: int = 0) -> Iterator[str]:
    """`ray start --head --block` on 127.0.0.1 in its own process group; yields its address, stops it after.
    `num_gpus` declares GPUs to Ray's scheduler (a logical resource: the encoder sessions still find only the CPU),
    so the pipeline takes the shape it takes on GPU nodes."""
    port = free_port()
    env = {**os.environ, **RAY_ENV}
    temp_dir = Path("/tmp") / f"lbray{os.getpid()}-{port}"  # short: Ray's socket paths must fit in 107 bytes
    cmd = [
        RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--num-cpus", str(num_cpus), "--num-gpus", str(num_gpus), "--object-store-memory", str(200 * 1024**2),
        "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(temp_dir),
    ]  # fmt: skip
    log = open(tmp / "ray-head.log", "w")
    head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            probe = subprocess.run([RAY, "status", "--address", address], env=env, capture_output=True, timeout=60)
            if probe.returncode == 0:
                break
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray head did not start: {(tmp / 'ray-head.log').read_text()[-2000:]}")
            time.sleep(1)
        yield address
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops its own processes on SIGTERM
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)  # the cluster's session logs and sockets


def write_bad_files(root: Path) -> list[Path]:
    """Files a library really holds: text named .wav, a 0-byte file, a header with no data, NaN samples."""
    paths = [root / p for p in BAD_FILES]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_bytes(b"this is a text file, not audio\n" * 10)
    paths[1].write_bytes(b"")
    write_audio(paths[2], np.zeros(48_000, np.float32))
    paths[2].write_bytes(paths[2].read_bytes()[:44])
    write_audio(paths[3], np.full(4_800, np.nan, np.float32), subtype="FLOAT")
    return paths


def write_named(root: Path) -> list[Path]:
    """The NAMED loops (160 BPM synth loops, as write_loops makes them)."""
    from loopbridge.synth import make_loop

    return [write_audio(root / name, make_loop(500 + i, bars=1, bpm=160.0).samples) for i, name in enumerate(NAMED)]


def write_library(root: Path, n: int) -> list[Path]:
    """n files: mostly clean loops, a few named with tempo and key, some loud noise (a gross defect), and the
    bad files above."""
    noise = max(2, n // 20)
    loops = n - noise - len(BAD_FILES) - len(NAMED)
    return [
        *write_loops(root / "loops", loops, seed=1000),
        *write_named(root),
        *write_noise(root / "noise", noise),
        *write_bad_files(root),
    ]
