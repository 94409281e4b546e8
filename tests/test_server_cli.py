"""`loopbridge serve` as a user runs it, talked to by an independent OSC implementation (liblo's oscsend/oscdump)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import tone, write_audio
from helpers_server import model_files  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(not shutil.which("oscsend") or not shutil.which("oscdump"),
                                reason="liblo-tools (oscsend, oscdump) not installed; scripts/test installs them")


def _lines(stream) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _wait_for(q: queue.Queue, pattern: str, timeout: float, seen: list[str]) -> re.Match:
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


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_serve_answers_oscsend_and_oscdump_hears_the_result(model_files, tmp_path):
    bundle, _ = model_files
    env = {**os.environ, "LOOPBRIDGE_HOME": str(bundle.parents[2])}
    take = write_audio(tmp_path / "my take.wav", tone(2.0, freq=137.5, amp=0.35, seed=5))
    old = time.time() - 5
    os.utime(take, (old, old))
    dump_port = _free_udp_port()
    dump = _start(["oscdump", "-L", str(dump_port)], env)
    server = _start([sys.executable, "-m", "loopbridge", "serve", "--port", "0", "--model", "testmodel",
                     "--reply-port", str(dump_port)], env)
    try:
        log: list[str] = []
        err = _lines(server.stderr)
        _wait_for(err, r"model testmodel: encoder mel-stats on \w+ExecutionProvider", 60, log)
        port = int(_wait_for(err, r"listening on 127\.0\.0\.1:(\d+)", 60, log).group(1))
        out = _lines(dump.stdout)
        seen: list[str] = []
        subprocess.run(["oscsend", "localhost", str(port), "/loopbridge/ping"], check=True, timeout=10)
        _wait_for(out, r'/loopbridge/pong iss 1 "[^"]+" "\w+ExecutionProvider"', 30, seen)
        subprocess.run(["oscsend", "localhost", str(port), "/loopbridge/score", "is", "7", str(take)], check=True, timeout=10)
        m = _wait_for(out, r'/loopbridge/result issffif 7 "([^"]+)" "testmodel" (\S+) (\S+) ([01]) (\S+)', 30, seen)
        assert m.group(1) == str(take) and m.group(4) == "0" and float(m.group(5)) > 0
        # oscsend sends a typed float id, as Pure Data would: it is cast, and the path error is clear
        subprocess.run(["oscsend", "localhost", str(port), "/loopbridge/score", "fs", "8.0", "/nowhere.wav"], check=True, timeout=10)
        _wait_for(out, r'/loopbridge/error iss 8 "missing" ".*file not found"', 30, seen)
        assert server.poll() is None
    finally:
        _stop(server)
        _stop(dump)
    assert server.returncode == 0


def test_serve_refuses_a_public_address_without_allow_root(model_files):
    bundle, _ = model_files
    env = {**os.environ, "LOOPBRIDGE_HOME": str(bundle.parents[2])}
    proc = subprocess.run([sys.executable, "-m", "loopbridge", "serve", "--host", "0.0.0.0", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--allow-root" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_without_any_model_says_how_to_make_one(tmp_path):
    env = {**os.environ, "LOOPBRIDGE_HOME": str(tmp_path / "empty")}
    proc = subprocess.run([sys.executable, "-m", "loopbridge", "serve", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "loopbridge fit" in proc.stderr and "Traceback" not in proc.stderr
