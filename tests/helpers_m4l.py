"""Device end-to-end helpers: run the device script under Node against a server over real UDP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from conftest import tone, write_audio

HARNESS = Path(__file__).resolve().parents[1] / "max_for_live" / "harness" / "run_device.js"
WARNING_COLOUR = 0xFF3636
FLAG_MARK = "\u26a0"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_device(
    server_port: int,
    reply_port: int,
    takes: list[tuple[str, Path]],
    work: Path,
    score_track: bool = False,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Record each take into a clip of the stand-in Live set, let the device talk to the server, report the clips."""
    node = shutil.which("node")
    assert node, "node is not installed"
    scenario = work / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                # each clip plays its whole file, as a fresh unwarped recording does
                "takes": [{"name": n, "path": str(p), "seconds": sf.info(str(p)).duration} for n, p in takes],
                "score_track": score_track,
                "timeout_s": timeout_s,
            }
        )
    )
    done = subprocess.run(
        [
            node,
            str(HARNESS),
            "--server-port",
            str(server_port),
            "--reply-port",
            str(reply_port),
            "--scenario",
            str(scenario),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
    )
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps({k: report.get(k) for k in ("error", "connection", "status", "received")})
    assert report["violations"] == []  # no set change from inside an observer callback
    return report


def clean_take(path: Path, seconds: float = 2.0) -> Path:
    return write_audio(path, tone(seconds, freq=137.5, amp=0.35, seed=3))


def clipped_take(path: Path, seconds: float = 2.0) -> Path:
    """The same kind of take, driven into hard clipping: a gross defect."""
    y = np.clip(tone(seconds, freq=137.5, amp=0.35, seed=3) * 12.0, -1.0, 1.0)
    return write_audio(path, y.astype(np.float32), subtype="PCM_16")
