"""A bounded soak of `loopbridge serve`: 2,000 mixed valid and invalid requests from 4 concurrent clients."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from conftest import tone, write_audio
from helpers_server import OscPeer, start_server_process, stop_process
from pythonosc.osc_message import OscMessage

CLIENTS = 4
PER_CLIENT = 500
WINDOW = 8  # requests a client has in flight, as a device with a few tracks would
# mostly cheap requests: every scored file costs a full 10 s encoder pass
INVALID = ("missing", "no_path", "unknown", "garbage", "ping", "cancel", "too_many")
KINDS = ("score", *INVALID, "batch", *INVALID)
ENDS = {"/loopbridge/result", "/loopbridge/error", "/loopbridge/done"}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class SoakClient(threading.Thread):
    """Sends its share of requests and counts every reply per id."""

    def __init__(self, n: int, port: int, take: Path) -> None:
        super().__init__(daemon=True)
        self.n, self.take = n, str(take)
        self.peer = OscPeer().talk_to(("127.0.0.1", port))
        self.expect: dict[int, str] = {}  # id → kind of request
        self.ends: Counter = Counter()
        self.results: Counter = Counter()  # per batch id: its per-file results
        self.pings = self.pongs = 0
        self.error: BaseException | None = None

    def _drain(self, until_outstanding: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.expect) - sum(1 for i in self.expect if self.ends[i]) > until_outstanding:
            self.peer.sock.settimeout(max(0.01, deadline - time.monotonic()))
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"client {self.n}: replies missing for {[i for i in self.expect if not self.ends[i]][:10]}"
                )
            try:
                data = self.peer.sock.recv(65536)
            except TimeoutError:
                continue
            self._count(OscMessage(data))

    def _count(self, msg: OscMessage) -> None:
        args = list(msg.params)
        if msg.address == "/loopbridge/pong":
            self.pongs += 1
        elif msg.address in ENDS and not (msg.address == "/loopbridge/result" and self.expect.get(args[0]) == "batch"):
            self.ends[args[0]] += 1
        elif msg.address == "/loopbridge/result":
            self.results[args[0]] += 1

    def run(self) -> None:
        try:
            port = self.peer.port
            for i in range(PER_CLIENT):
                rid = self.n * 100_000 + i
                kind = KINDS[(i * 7 + self.n) % len(KINDS)]
                if kind == "score":
                    self.peer.send("/loopbridge/score", rid, self.take, port)
                elif kind == "missing":
                    self.peer.send("/loopbridge/score", rid, self.take + ".gone", port)
                elif kind == "no_path":
                    self.peer.send("/loopbridge/score", rid, 42.5, port)  # a number where the path goes
                elif kind == "too_many":
                    self.peer.send("/loopbridge/score", rid, self.take, "testmodel", "extra", port)
                elif kind == "unknown":
                    self.peer.send("/loopbridge/sccore", rid, self.take, port)
                elif kind == "batch":
                    self.peer.send(
                        "/loopbridge/batch", rid, self.take, self.take + ".gone", port
                    )  # 1 result, 1 file_error
                elif kind == "cancel":
                    self.peer.send("/loopbridge/cancel", rid, port)  # nothing by that id: unknown_id
                elif kind == "garbage":
                    self.peer.send_raw(bytes(np.random.default_rng(rid).integers(0, 256, 64, dtype=np.uint8)))
                    continue
                else:
                    self.peer.send("/loopbridge/ping", port)
                    self.pings += 1
                    continue
                self.expect[rid] = kind
                self._drain(WINDOW, timeout=120)
            self._drain(0, timeout=120)
            time.sleep(0.5)  # anything extra (a second terminal reply) would arrive now
            self.peer.sock.setblocking(False)
            while True:
                try:
                    self._count(OscMessage(self.peer.sock.recv(65536)))
                except (OSError, BlockingIOError):
                    break
        except BaseException as exc:
            self.error = exc
        finally:
            self.peer.close()


def test_soak_every_request_gets_exactly_one_terminal_reply_and_memory_stays_bounded(model_files, tmp_path):
    bundle, _ = model_files
    env = {**os.environ, "LOOPBRIDGE_HOME": str(bundle.parents[2])}
    take = write_audio(tmp_path / "short take.wav", tone(0.5, freq=137.5, amp=0.35, seed=1))
    old = time.time() - 5
    os.utime(take, (old, old))
    server, port, _ = start_server_process(env, "--model", "testmodel", "--reply-port", "9")
    try:
        rss = [_rss_kib(server.pid)]
        started = time.monotonic()
        clients = [SoakClient(n, port, take) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        while any(c.is_alive() for c in clients):
            time.sleep(0.25)
            rss.append(_rss_kib(server.pid))
        print(
            f"soak: {CLIENTS * PER_CLIENT} requests in {time.monotonic() - started:.1f} s; RSS {rss[0]}..{max(rss)} KiB"
        )
        for c in clients:
            c.join()
            assert c.error is None, c.error
            assert set(c.ends) == set(c.expect)
            assert set(c.ends.values()) == {1}, [i for i, k in c.ends.items() if k != 1]
            assert c.pongs == c.pings
            assert all(c.results[i] == 1 for i, k in c.expect.items() if k == "batch")
        assert server.poll() is None, "the server died"
        # memory: after the first quarter (caches, arenas warmed) it must not keep climbing
        quarter = rss[len(rss) // 4]
        assert max(rss) - quarter < 40 * 1024, f"RSS grew from {quarter} KiB to {max(rss)} KiB"
    finally:
        stop_process(server)
