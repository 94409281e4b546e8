"""`loopbridge serve` as a user runs it, talked to by an independent OSC implementation (liblo's oscsend/oscdump)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import tone, write_audio
from helpers_server import free_udp_port, lines_of, start_process, stop_process, wait_for_line

pytestmark = pytest.mark.skipif(
    not shutil.which("oscsend") or not shutil.which("oscdump"),
    reason="liblo-tools (oscsend, oscdump) not installed; scripts/test installs them",
)


def test_serve_answers_oscsend_and_oscdump_hears_the_result(model_files, tmp_path):
    bundle, _ = model_files
    env = {**os.environ, "LOOPBRIDGE_HOME": str(bundle.parents[2])}
    take = write_audio(tmp_path / "my take.wav", tone(2.0, freq=137.5, amp=0.35, seed=5))
    old = time.time() - 5
    os.utime(take, (old, old))
    dump_port = free_udp_port()
    dump = start_process(["oscdump", "-L", str(dump_port)], env)
    server = start_process(
        [
            sys.executable,
            "-m",
            "loopbridge",
            "serve",
            "--port",
            "0",
            "--model",
            "testmodel",
            "--reply-port",
            str(dump_port),
        ],
        env,
    )
    try:
        log: list[str] = []
        err = lines_of(server.stderr)
        wait_for_line(err, r"model testmodel: encoder mel-stats on \w+ExecutionProvider", 60, log)
        port = int(wait_for_line(err, r"listening on 127\.0\.0\.1:(\d+)", 60, log).group(1))
        out = lines_of(dump.stdout)
        seen: list[str] = []
        subprocess.run(["oscsend", "localhost", str(port), "/loopbridge/ping"], check=True, timeout=10)
        wait_for_line(out, r'/loopbridge/pong iss 1 "[^"]+" "\w+ExecutionProvider"', 30, seen)
        subprocess.run(
            ["oscsend", "localhost", str(port), "/loopbridge/score", "is", "7", str(take)], check=True, timeout=10
        )
        m = wait_for_line(out, r'/loopbridge/result issffif 7 "([^"]+)" "testmodel" (\S+) (\S+) ([01]) (\S+)', 30, seen)
        assert m.group(1) == str(take)
        assert m.group(4) == "0"
        assert float(m.group(5)) > 0
        # oscsend sends a typed float id, as Pure Data would: it is cast, and the path error is clear
        subprocess.run(
            ["oscsend", "localhost", str(port), "/loopbridge/score", "fs", "8.0", "/nowhere.wav"],
            check=True,
            timeout=10,
        )
        wait_for_line(out, r'/loopbridge/error iss 8 "missing" ".*file not found"', 30, seen)
        assert server.poll() is None
    finally:
        stop_process(server)
        stop_process(dump)
    assert server.returncode == 0


def test_serve_refuses_a_public_address_without_allow_root(model_files):
    bundle, _ = model_files
    env = {**os.environ, "LOOPBRIDGE_HOME": str(bundle.parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "loopbridge", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--allow-root" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_without_any_model_says_how_to_make_one(tmp_path):
    env = {**os.environ, "LOOPBRIDGE_HOME": str(tmp_path / "empty")}
    proc = subprocess.run(
        [sys.executable, "-m", "loopbridge", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "loopbridge fit" in proc.stderr
    assert "Traceback" not in proc.stderr
