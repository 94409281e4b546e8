"""What the finished-writing rule costs a take, and a batch's share of the server under a stream of takes.

1. Round trip of a `score` by how long before the request the file was last written: a take written long
   before (QUIET_S applies), and takes sent 0, 100 and 300 ms after their last write (SETTLE_S applies:
   the server waits until the file has been untouched for 0.6 s).
2. A 34-file batch alone, and while a client sends a take every 100 ms for as long as the batch runs.

    python benchmarks/settle.py [--takes 15]

mel-stats encoder; the machine may be busy (the table says the load average).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import Client, fit_scorer, loop_of, pct, write_takes

DELAYS_MS = (None, 0, 100, 300)  # None: last written 5 s before the request


def write_now(path: Path, seconds: float, seed: int) -> None:
    sf.write(str(path), loop_of(seconds, seed), 48_000, subtype="PCM_24")


def settle_rows(client: Client, tmp: Path, takes: int) -> list[str]:
    rows, base = [], None
    rid = 0
    for delay in DELAYS_MS:
        trips = []
        for i in range(takes):
            path = tmp / f"take_{delay}_{i}.wav"
            if delay is None:
                path = write_takes(tmp / f"old_{i}", 4.0, 1, seed=i)[0]
            else:
                write_now(path, 4.0, seed=i)
                time.sleep(delay / 1000)
            rid += 1
            t = time.perf_counter()
            client.request("/loopbridge/score", [rid, str(path)], "/loopbridge/result")
            trips.append((time.perf_counter() - t) * 1e3)
        p50 = pct(trips, 50)
        base = p50 if base is None else base
        what = "5 s before (finished)" if delay is None else f"{delay} ms before"
        rows.append(f"| {what} | {takes} | {p50:.0f} | {pct(trips, 95):.0f} | {p50 - base:+.0f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def fair_rows(server_address, sock: socket.socket, tmp: Path) -> list[str]:
    from pythonosc.osc_message import OscMessage
    from pythonosc.udp_client import SimpleUDPClient

    track = write_takes(tmp / "track", 4.0, 34, seed=7000)
    take = write_takes(tmp / "stream", 4.0, 1, seed=8000)[0]
    osc = SimpleUDPClient(*server_address)
    rows = []
    for label, stream in (("alone", False), ("a take every 100 ms", True)):
        stop = threading.Event()
        sent: dict[int, float] = {}

        def flood(stop=stop, sent=sent) -> None:
            rid = 10_000
            while not stop.wait(0.1):
                rid += 1
                sent[rid] = time.perf_counter()
                osc.send_message("/loopbridge/score", [rid, str(take)])

        t = time.perf_counter()
        osc.send_message("/loopbridge/batch", [1, *map(str, track)])
        flooder = threading.Thread(target=flood, daemon=True)
        if stream:
            flooder.start()
        trips, done_s = [], None
        while done_s is None:
            msg = OscMessage(sock.recv(65536))
            rid = msg.params[0]
            if msg.address == "/loopbridge/result" and rid in sent:
                trips.append((time.perf_counter() - sent[rid]) * 1e3)
            elif msg.address == "/loopbridge/done" and rid == 1:
                done_s = time.perf_counter() - t
        stop.set()
        if stream:
            flooder.join()
            time.sleep(2.0)  # let the last takes finish; drain their replies
            sock.settimeout(0.5)
            try:
                while True:
                    sock.recv(65536)
            except TimeoutError:
                pass
            sock.settimeout(600)
        take_p50 = f"{pct(trips, 50):.0f}" if trips else "-"
        rows.append(f"| {label} | 34 × 4 s | {done_s:.1f} | {len(trips)} | {take_p50} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=15)
    args = ap.parse_args()
    from loopbridge.encoders import Encoder
    from loopbridge.server.app import OscServer

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="loopbridge-settle-") as home:
        os.environ.setdefault("LOOPBRIDGE_HOME", home)
        tmp = Path(home)
        scorer = fit_scorer(Encoder.open("mel-stats"), tmp)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(600)
            with OscServer({"bench": scorer}, port=0, reply_port=sock.getsockname()[1], queue_size=256) as server:
                settle = settle_rows(Client(server.address, sock), tmp, args.takes)
                fair = fair_rows(server.address, sock, tmp)
    print(f"\n## round trip by when the take was last written (mel-stats, 4 s takes, load average {load:.1f})\n")
    print("| last written | n | round trip p50 ms | p95 | added vs finished |")
    print("|---|---|---|---|---|")
    print("\n".join(settle))
    print("\n## a batch under a stream of takes\n")
    print("| takes meanwhile | batch | batch done after s | takes answered meanwhile | take round trip p50 ms |")
    print("|---|---|---|---|---|")
    print("\n".join(fair))
    print(f"\n(load average at the end {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
