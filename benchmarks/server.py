"""Take-to-flag latency of the OSC server against the encoder alone, and clip-track throughput.

Round trip: a python-osc client sends `/loopbridge/score` over UDP on 127.0.0.1 and waits for the
`result` (file read, checks, encoder, heads, reply), once without context and once with the song's tempo
and key as named arguments (the musical checks then transcribe the take too: what they add is the
difference). The very first take after the server starts carries tempo and key, against the tenth. Encoder: `Encoder.embed_clips` on the same take
already in memory (fusion log-mel + ONNX), measured in the same run, alternating with the round trips.
Takes are written a few seconds before they are sent (the server scores a file only once it has been
untouched for 0.1 s, so a take sent the instant it is written waits up to that long on top).

    python benchmarks/server.py                       # mel-stats, plus a random-weight CLAP export if torch is there
    python benchmarks/server.py --encoders mel-stats --takes 50 --batch-files 200
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # helpers_clap: random O(1)-gain CLAP weights

DURATIONS = (2.0, 8.0, 20.0)
MUSICAL = ["bpm", 120.0, "key", "E minor", "meter", "4/4"]  # named arguments: the musical checks run on the take
CONTEXTS = {"none": [], "tempo, key": MUSICAL}


def loop_of(seconds: float, seed: int) -> np.ndarray:
    """A synthetic bass/guitar loop repeated or cut to `seconds`."""
    from loopbridge.synth import make_loop

    y = make_loop(seed, bars=2).samples
    return np.resize(y, int(seconds * 48_000)).astype(np.float32)


def write_takes(folder: Path, seconds: float, n: int, seed: int) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"take_{i:03d}.wav"
        sf.write(str(p), loop_of(seconds, seed + i), 48_000, subtype="PCM_24")
        paths.append(p)
    old = time.time() - 5
    for p in paths:
        os.utime(p, (old, old))
    return paths


def open_encoder(name: str, tmp: Path):
    from loopbridge.encoders import Encoder

    if name != "clap-random":
        return Encoder.open(name)
    from helpers_clap import random_tower

    from loopbridge.export.encoder_export import export_tower

    path = export_tower(
        random_tower("clap-htsat-fused"), tmp / "clap-htsat-fused.onnx", checkpoint_sha256="-", random_weights=True
    )
    return Encoder(path)


def fit_scorer(encoder, tmp: Path):
    """A bundle as `loopbridge fit` makes it (shallow heads, calibrated checks) on 16 synthetic loops."""
    from loopbridge import audio, checks
    from loopbridge.bundle import Bundle
    from loopbridge.export.fit import FitOptions, encoder_ref, fit_heads, save_bundle
    from loopbridge.pipeline import Scorer
    from loopbridge.server.models import warm_up

    library = write_takes(tmp / "library", 4.0, 16, seed=500)
    clips = [audio.load(p) for p in library]
    detectors = fit_heads(encoder.embed_clips(clips), FitOptions(heads=("knn", "mahalanobis", "pca"), progress=False))
    bundle = save_bundle(
        tmp / "model",
        "bench",
        detectors,
        encoder_ref(encoder),
        {"files": 16},
        checks.calibrate(c.native for c in clips),
    )
    scorer = Scorer(Bundle.load(bundle), encoder)
    warm_up(scorer)
    return scorer


class Client:
    """A DAW-like peer: sends from python-osc's random port, hears replies on its own."""

    def __init__(self, server: tuple[str, int], sock: socket.socket) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self.sock, self.osc = sock, SimpleUDPClient(*server)

    def request(self, address: str, args: list, until: str) -> list:
        from pythonosc.osc_message import OscMessage

        self.osc.send_message(address, args)
        while True:
            msg = OscMessage(self.sock.recv(65536))
            if msg.address == "/loopbridge/error":
                raise RuntimeError(f"server error: {msg.params}")
            if msg.address == until and msg.params[0] == args[0]:
                return list(msg.params)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench(name: str, takes: int, batch_files: int, tmp: Path) -> tuple[list[str], str]:
    from loopbridge import audio
    from loopbridge.server.app import OscServer

    encoder = open_encoder(name, tmp)
    scorer = fit_scorer(encoder, tmp)
    label = f"{encoder.name}{' (RANDOM weights)' if encoder.random_weights else ''}"
    rows = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(600)
        with OscServer(
            {"bench": scorer}, port=0, reply_port=sock.getsockname()[1], provider=encoder.provider
        ) as server:
            client = Client(server.address, sock)
            rid = 0
            first = write_takes(tmp / "first", DURATIONS[0], 1, seed=99)[0]
            t = time.perf_counter()
            client.request("/loopbridge/score", [rid, str(first), *MUSICAL], "/loopbridge/result")
            first_ms = (time.perf_counter() - t) * 1e3
            tenth_ms = float("nan")
            for seconds in DURATIONS:
                # one set of files per kind of request: nothing the server keeps from one can help the other
                sets = {
                    kind: write_takes(tmp / f"takes_{seconds:g}_{k}", seconds, takes, seed=int(seconds) * 1000)
                    for k, kind in enumerate(CONTEXTS)
                }
                round_trip: dict[str, list[float]] = {kind: [] for kind in CONTEXTS}
                server_ms: dict[str, list[float]] = {kind: [] for kind in CONTEXTS}
                enc_only = []
                for i in range(takes):
                    clip = audio.load(sets["none"][i])
                    turns = ["none", "tempo, key", "encoder"]
                    for turn in turns[i % 3 :] + turns[: i % 3]:  # rotate the order, so drift in load hits all alike
                        t = time.perf_counter()
                        if turn == "encoder":
                            encoder.embed_clips([clip])
                            enc_only.append((time.perf_counter() - t) * 1e3)
                            continue
                        rid += 1
                        args = [rid, str(sets[turn][i]), *CONTEXTS[turn]]
                        reply = client.request("/loopbridge/score", args, "/loopbridge/result")
                        round_trip[turn].append((time.perf_counter() - t) * 1e3)
                        server_ms[turn].append(reply[6])
                if seconds == DURATIONS[0] and takes >= 10:
                    tenth_ms = round_trip["tempo, key"][9]
                enc = pct(enc_only, 50)
                for kind in CONTEXTS:
                    rt = round_trip[kind]
                    added = pct(rt, 50) - pct(round_trip["none"], 50)
                    rows.append(
                        f"| {label} | {seconds:g} s | {kind} | {len(rt)} | {pct(rt, 50):.1f} | {pct(rt, 95):.1f} | "
                        f"{pct(rt, 99):.1f} | {pct(server_ms[kind], 50):.1f} | {enc:.1f} | {pct(rt, 50) / enc:.2f} | "
                        f"{added:+.1f} ({added / enc:+.2f} × encoder) |"
                    )
                    print(rows[-1], file=sys.stderr, flush=True)  # partial results survive an interrupted run
            rows.append(
                f"| {label} | first take after start ({DURATIONS[0]:g} s, tempo, key) | {first_ms:.1f} ms; "
                f"the tenth: {tenth_ms:.1f} ms |"
            )
            track = write_takes(tmp / "track", 4.0, batch_files, seed=9000)
            rid += 1
            t = time.perf_counter()
            done = client.request("/loopbridge/batch", [rid, str(tmp / "track")], "/loopbridge/done")
            served = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, len(track), 8):
        encoder.embed_clips([audio.load(p) for p in track[i : i + 8]])
    alone = time.perf_counter() - t
    batch_row = (
        f"| {label} | {batch_files} × 4 s | {done[1]} scored, {done[3]} failed | {batch_files / served:.1f} | "
        f"{batch_files / alone:.1f} | {alone / served:.2f} |"
    )
    return rows, batch_row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--encoders",
        default=None,
        help="comma-separated: mel-stats, clap-random, or an installed preset "
        "(default: mel-stats, and clap-random when torch and laion-clap are installed)",
    )
    ap.add_argument("--takes", type=int, default=50, help="takes per duration (default %(default)s)")
    ap.add_argument("--batch-files", type=int, default=200, help="files in the clip-track batch (default %(default)s)")
    args = ap.parse_args()
    names = args.encoders.split(",") if args.encoders else ["mel-stats"] + (["clap-random"] if _have_torch() else [])

    from loopbridge.encoders import execution_providers

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="loopbridge-bench-") as home:
        os.environ.setdefault("LOOPBRIDGE_HOME", home)
        results = []
        for name in names:
            tmp = Path(home) / name
            tmp.mkdir()
            results.append(bench(name, args.takes, args.batch_files, tmp))
    print(
        f"\n## take-to-flag over UDP on 127.0.0.1, {execution_providers()[0]}, {os.cpu_count()} cores "
        f"(load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)\n"
    )
    print(
        "| encoder | take | context sent | n | round trip p50 ms | p95 | p99 | server-side p50 | encoder alone p50 "
        "| round trip / encoder | the context adds (p50) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for rows, _ in results:
        print("\n".join(rows))
    print("\n## clip track: one `batch` request for a folder (micro-batches of 8 through the encoder)\n")
    print("| encoder | files | outcome | server files/s | encoder alone files/s | server / encoder |")
    print("|---|---|---|---|---|---|")
    for _, batch_row in results:
        print(batch_row)


def _have_torch() -> bool:
    """Without importing laion_clap: its __init__ downloads tokenizers (export/clap.py avoids that)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("laion_clap") is not None


if __name__ == "__main__":
    main()
