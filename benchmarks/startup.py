"""Start-up time of the one-file commands a producer waits on, each in a fresh process as a user runs it.

    python benchmarks/startup.py [--label after] [--results results.json] [--repeats 3]

- `loopbridge check one.wav` (no model);
- `loopbridge score one.wav --model M`, M fitted by this checkout on 256 synthetic loops with the mel-stats
  encoder and every head (256 rows: the Isolation Forest's trees are full size; 3 epochs for the Deep SVDD
  heads, which changes their weights, not their graphs);
- `loopbridge serve --model M` until the first `pong` answers a `ping` sent over real UDP on 127.0.0.1.
The encoder's own time (open the mel-stats session and embed one.wav, in this process) is printed beside
them: the score target is 1.5 s plus that. Medians of --repeats runs. To compare two versions of the code,
run this once per version with the same --results file (`PYTHONPATH=<other checkout>` for the other).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

import loopbridge
from loopbridge import audio
from loopbridge.encoders import Encoder
from loopbridge.synth import write_library


def cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one command in its own process. CPU time (user + system) is what to compare on a
    shared machine: wall time there mostly measures the others."""
    before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "loopbridge", *args], env=env, capture_output=True, text=True)
    wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # check exits 1 when it finds something
        raise RuntimeError(f"loopbridge {' '.join(args)} failed:\n{done.stderr}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_until_pong(model: str, env: dict[str, str], timeout_s: float = 120.0) -> tuple[float, float]:
    """(wall, CPU) seconds from starting `serve` until a pong comes back to a ping sent every 20 ms."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as replies:
        replies.bind(("127.0.0.1", 0))
        replies.settimeout(0.02)
        b = OscMessageBuilder("/loopbridge/ping")
        b.add_arg(replies.getsockname()[1], OscMessageBuilder.ARG_TYPE_INT)
        ping = b.build().dgram
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "loopbridge", "serve", "--port", str(port), "--model", model],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while time.perf_counter() - t < timeout_s:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
                replies.sendto(ping, ("127.0.0.1", port))
                try:
                    data = replies.recv(65536)
                except TimeoutError:
                    continue
                if OscMessage(data).address == "/loopbridge/pong":
                    return time.perf_counter() - t, cpu_of(proc.pid)
            raise RuntimeError("no pong within the timeout")
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def encoder_time(wav: Path) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    Encoder.open("mel-stats").embed_clips([audio.load(wav)])
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--results", type=Path, help="JSON file to add this run to (and print every run in it)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loops", type=int, default=256)
    args = ap.parse_args()

    load = os.getloadavg()[0]
    print(f"loopbridge from {Path(loopbridge.__file__).parent}; load average {load:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "LOOPBRIDGE_HOME": str(home)}
        os.environ["LOOPBRIDGE_HOME"] = str(home)
        write_library(Path(tmp) / "loops", n_clean=args.loops, n_per_defect=0, seed=0)
        wav = sorted((Path(tmp) / "loops").glob("*.wav"))[0]
        fit = ["fit", str(Path(tmp) / "loops"), "--encoder", "mel-stats", "--name", "M", "--epochs", "3"]
        subprocess.run([sys.executable, "-m", "loopbridge", *fit, "--no-progress"], env=env, check=True)
        times: dict[str, list[tuple[float, float]]] = {
            "check": [],
            "score": [],
            "serve (first pong)": [],
            "encoder (in-process)": [],
        }
        for _ in range(args.repeats):
            times["check"].append(cli(["check", str(wav)], env))
            times["score"].append(cli(["score", str(wav), "--model", "M"], env))
            times["serve (first pong)"].append(serve_until_pong("M", env))
            times["encoder (in-process)"].append(encoder_time(wav))
    run = {
        "load_before": load,
        "load_after": os.getloadavg()[0],
        **{k: [float(np.median([w for w, _ in v])), float(np.median([c for _, c in v]))] for k, v in times.items()},
    }
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else {}
    results[args.label] = run
    if args.results:
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    labels = list(results)
    print(f"\nwall / CPU (user+sys) seconds, median of {args.repeats} (one file: {wav.name})")
    print("| command | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for key in times:
        print(f"| {key} | " + " | ".join("{:.2f} / {:.2f}".format(*results[lab][key]) for lab in labels) + " |")
    print(
        "| load avg before/after | "
        + " | ".join(f"{results[lab]['load_before']:.1f}/{results[lab]['load_after']:.1f}" for lab in labels)
        + " |"
    )


if __name__ == "__main__":
    main()
