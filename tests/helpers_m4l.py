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


def read_frozen_amxd(data: bytes) -> dict[str, tuple[str, bytes]]:
    """An independent reader of a frozen .amxd (not the builder's code): {file name: (type, bytes)}.

    Follows the layout maxdevtools' frozen-device printer reads: LE chunks up to `ptch`, whose
    payload opens with `mx@c` and a big-endian header whose third word is where `dlst` starts.
    """
    pos, ptch = 0, b""
    while pos < len(data):
        tag, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if tag == b"ptch":
            ptch = data[pos + 8 : pos + 8 + size]
            assert len(ptch) == size, "ptch runs past the end of the file"
        pos += 8 + size
    assert ptch[:4] == b"mx@c", "not a frozen device"
    dlst_at = int.from_bytes(ptch[12:16], "big")
    assert ptch[dlst_at : dlst_at + 4] == b"dlst"
    dlst_end = dlst_at + int.from_bytes(ptch[dlst_at + 4 : dlst_at + 8], "big")
    assert dlst_end == len(ptch), "the directory ends the container"
    files: dict[str, tuple[str, bytes]] = {}
    entry = dlst_at + 8
    while entry < dlst_end:
        assert ptch[entry : entry + 4] == b"dire"
        entry_end = entry + int.from_bytes(ptch[entry + 4 : entry + 8], "big")
        fields, f = {}, entry + 8
        while f < entry_end:
            size = int.from_bytes(ptch[f + 4 : f + 8], "big")
            fields[ptch[f : f + 4].decode("ascii")] = ptch[f + 8 : f + size]
            f += size
        name = fields["fnam"].rstrip(b"\0").decode("utf-8")
        offset, size = int.from_bytes(fields["of32"], "big"), int.from_bytes(fields["sz32"], "big")
        files[name] = (fields["type"].decode("ascii"), ptch[offset : offset + size])
        entry = entry_end
    return files
