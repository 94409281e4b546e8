"""The device script under Node speaks real OSC over UDP: to an independent python-osc peer, then to `loopbridge serve`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
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


RUN_DEVICES = Path(__file__).resolve().parents[1] / "max_for_live" / "harness" / "run_devices.js"


def _first_ids_with_free_auto_ports(n: int) -> list[int]:
    """Stand-in object ids whose auto reply ports (9100 + device id % 800; the device is the 3rd object) are free."""
    ids: list[int] = []
    for first in range(1, 2000, 97):
        port = 9100 + (first + 2) % 800
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if all((i + 2) % 800 != (first + 2) % 800 for i in ids):
            ids.append(first)
        if len(ids) == n:
            return ids
    pytest.fail("no free auto reply ports in 9100-9899")


def test_two_devices_and_a_script_share_the_real_server_each_answered_at_its_own_port(tmp_path, real_server) -> None:
    """Two device instances (auto reply ports) and a python-osc script score at once against `loopbridge serve`."""
    folder = tmp_path / "Samples Recorded"
    bass = clipped_take(folder / "Bass 2.wav")
    guitar = clean_take(folder / "Gtr 1.wav")
    script_take = clipped_take(folder / "script take.wav")
    first_a, first_b = _first_ids_with_free_auto_ports(2)
    scenario = tmp_path / "devices.json"
    devices = [("Bass", first_a, "Bass 2", bass), ("Guitar", first_b, "Gtr 1", guitar)]
    scenario.write_text(
        json.dumps(
            {
                "devices": [
                    {
                        "track": t,
                        "first_id": f,
                        "takes": [{"name": n, "path": str(p), "seconds": sf.info(str(p)).duration}],
                    }
                    for t, f, n, p in devices
                ],
                "timeout_s": 90,
            }
        )
    )
    node = shutil.which("node")
    assert node, "node is not installed"
    replies: list[tuple[str, list[Any]]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: replies.append((address, list(args))))
    listener = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    script_port = listener.server_address[1]
    try:
        run = subprocess.Popen(
            [node, str(RUN_DEVICES), "--server-port", str(real_server), "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        SimpleUDPClient("127.0.0.1", real_server).send_message(
            "/loopbridge/score", ["script-1", str(script_take), script_port]
        )
        out, err = run.communicate(timeout=120)
        deadline = time.monotonic() + 60
        while not any(a == "/loopbridge/result" for a, _ in replies) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.shutdown()
        listener.server_close()
    report: dict[str, Any] = json.loads(out) if out.strip() else {"error": err}
    assert run.returncode == 0, report.get("error", err)

    (result,) = [args for address, args in replies if address == "/loopbridge/result"]
    assert result[:2] == ["script-1", str(script_take)]
    assert result[5] == 1
    assert any(args[:2] == ["script-1", "clipping"] for address, args in replies if address == "/loopbridge/reason")

    a, b = report["devices"]
    assert a["reply_port"] != b["reply_port"]
    for d in (a, b):
        assert d["connection"].endswith(f"replies on {d['reply_port']}")
        (score,) = [m for m in d["sent"] if m[0] == "/loopbridge/score"]
        assert score[-1] == d["reply_port"]
        results = [m for m in d["received"] if m[0] == "/loopbridge/result"]
        assert [(m[1], m[2]) for m in results] == [(score[1], score[2])], "only its own answers reach a device"
        assert d["refusals"] == []
        assert d["violations"] == []
    assert a["clips"][0]["name"].startswith(FLAG_MARK)
    assert a["clips"][0]["name"].endswith(" clipping \u00b7 Bass 2")
    assert b["clips"][0]["name"] == "Gtr 1"
