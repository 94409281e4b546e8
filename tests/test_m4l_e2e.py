"""The device script under Node speaks real OSC over UDP: to an independent python-osc peer, then to `loopbridge serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from helpers_m4l import FLAG_MARK, WARNING_COLOUR, clean_take, clipped_take, free_udp_port, run_device
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient


class StandInServer:
    """A python-osc peer that answers like loopbridge serve, judging clipping by the file's own samples.

    It checks the harness's OSC encoding and decoding against an independent implementation; the
    flag comes from reading the region of the file the device sent, so a wrong path, a wrong region
    or a lost message fails.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[Any]]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message, needs_reply_address=True)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _on_message(self, client: tuple[str, int], address: str, *args: Any) -> None:
        self.requests.append((address, list(args)))
        *args, reply_port = args  # the device names its reply port last
        out = SimpleUDPClient(client[0], reply_port)
        command = address.removeprefix("/loopbridge/")
        if command == "ping":
            out.send_message("/loopbridge/pong", [1, "stand-in", "CPUExecutionProvider"])
        elif command == "models":
            out.send_message("/loopbridge/model", ["standin", "none", "clipping", 0.95, "clipping", 0.5])
        elif command == "score":
            self._score(out, args[0], args[1], *region(args[2:]))
        elif command == "batch":
            rid, paths = args[0], args[1:]
            flagged = sum(self._score(out, rid, p) for p in paths)
            out.send_message("/loopbridge/progress", [rid, len(paths), len(paths)])
            out.send_message("/loopbridge/done", [rid, len(paths), flagged, 0])

    @staticmethod
    def _score(out: SimpleUDPClient, rid: int, path: str, start_s: float = 0.0, end_s: float | None = None) -> bool:
        y, sr = sf.read(path, dtype="float32")
        y = y[int(start_s * sr) : None if end_s is None else int(end_s * sr)]
        clipped = np.flatnonzero(np.abs(y) >= 0.999)
        share = 100.0 * clipped.size / y.size
        if share > 0.5:
            out.send_message(
                "/loopbridge/reason",
                [rid, "clipping", 0.9, float(clipped[0] / sr), 0.01, f"clipped {clipped.size} samples"],
            )
        out.send_message("/loopbridge/result", [rid, path, "standin", share, 0.5, int(share > 0.5), 1.0])
        return share > 0.5


def region(words: list[Any]) -> tuple[float, float | None]:
    """start_s/end_s from a score request's words after the path: an optional model, then name/value pairs."""
    pairs = words[1:] if len(words) % 2 else words
    named = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return float(named.get("start_s", 0.0)), named.get("end_s")


@pytest.fixture
def takes(tmp_path: Path) -> list[tuple[str, Path]]:
    folder = tmp_path / "Samples Recorded"  # a space, as in Live's project folders
    return [("Bäss 1", clean_take(folder / "Bäss 1.wav")), ("Bass 2", clipped_take(folder / "Bass 2.wav"))]


def test_device_talks_osc_over_udp_and_marks_only_the_clipped_take(tmp_path, takes) -> None:
    with StandInServer() as server:
        reply_port = free_udp_port()
        report = run_device(server.port, reply_port, takes, tmp_path, score_track=True)

    scores = [args for address, args in server.requests if address == "/loopbridge/score"]
    song = ["bpm", 120, "meter", "4/4", "key", "C Major"]
    first, second = (str(p) for _, p in takes)
    assert [(type(a[0]), a[1:]) for a in scores] == [
        (int, [first, "start_s", 0, "end_s", 2.0, *song, reply_port]),
        (int, [second, "start_s", 0, "end_s", 2.0, *song, "sibling", first, reply_port]),
    ]
    assert next(args for address, args in server.requests if address == "/loopbridge/ping") == [reply_port]
    (batch,) = [args for address, args in server.requests if address == "/loopbridge/batch"]
    assert sorted(batch[1:-1]) == sorted(str(p) for _, p in takes)
    assert batch[-1] == reply_port

    assert report["connection"] == "connected \u00b7 loopbridge stand-in \u00b7 CPUExecutionProvider"
    clean, clipped = report["clips"]
    assert clean["name"] == "Bäss 1"
    assert clean["color"] != WARNING_COLOUR
    assert clipped["name"].startswith(FLAG_MARK)
    assert clipped["name"].endswith(" clipping \u00b7 Bass 2")
    assert clipped["color"] != WARNING_COLOUR  # colour marking is off by default: one undo step a take
    assert report["status"] == "track done: 2 scored, 1 flagged"


def test_device_reports_a_server_that_is_not_there(tmp_path, takes) -> None:
    silent_port = free_udp_port()  # nothing listens here
    report_or_error = None
    try:
        run_device(silent_port, free_udp_port(), takes[:1], tmp_path, timeout_s=4)
    except AssertionError as exc:
        report_or_error = str(exc)
    assert report_or_error is not None
    assert "timed out waiting for a pong" in report_or_error
    assert "server not running" in report_or_error


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory):
    """`loopbridge serve` in its own process, serving a real tiny bundle (mel-stats, kNN + Mahalanobis)."""
    from helpers_server import fit_model, write_library

    root = tmp_path_factory.mktemp("m4l_model")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPBRIDGE_HOME", str(home))
        fit_model(write_library(root / "library", n=12), home / "data" / "models" / "loops", "loops")
    port = free_udp_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopbridge",
            "serve",
            "--port",
            str(port),
            "--reply-port",
            str(free_udp_port()),
            "--model",
            "loops",
        ],
        env={**os.environ, "LOOPBRIDGE_HOME": str(home)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:  # it logs one line per model, then where it listens
            if "listening on" in line:
                break
        else:
            pytest.fail(f"loopbridge serve exited with {server.wait()} before listening")
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its log pipe drained
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_device_against_the_real_server_flags_the_defective_take_only(tmp_path, takes, real_server) -> None:
    report = run_device(real_server, free_udp_port(), takes, tmp_path, score_track=True)

    assert report["connection"].startswith("connected \u00b7 loopbridge ")
    clean, clipped = report["clips"]
    assert clean["name"] == "Bäss 1"
    assert clean["color"] != WARNING_COLOUR
    assert clipped["name"].startswith(FLAG_MARK)
    assert clipped["name"].endswith(" clipping \u00b7 Bass 2")
    assert clipped["color"] != WARNING_COLOUR
    reasons = [m for m in report["received"] if m[0] == "/loopbridge/reason"]
    assert reasons
    assert reasons[0][2] == "clipping"
    results = [m for m in report["received"] if m[0] == "/loopbridge/result"]
    assert [(r[2], r[6]) for r in results[:2]] == [(str(takes[0][1]), 0), (str(takes[1][1]), 1)]
    assert report["status"] == "track done: 2 scored, 1 flagged"
    assert "/loopbridge/model" in {m[0] for m in report["received"]}  # the model menu was filled
