"""The OSC server over real UDP sockets on 127.0.0.1, with a real bundle (mel-stats + shallow heads)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import tone, write_audio
from helpers_server import MODEL, OscPeer, make_scorer, noise_take

from loopbridge.errors import LoopbridgeError
from loopbridge.results import Finding
from loopbridge.server import protocol
from loopbridge.server.app import OscServer


@pytest.fixture
def peer():
    peers: list[OscPeer] = []

    def make() -> OscPeer:
        peers.append(OscPeer())
        return peers[-1]

    yield make
    for p in peers:
        p.close()


@pytest.fixture
def serve(model_files, peer):
    """Start a server on an ephemeral port whose default reply port is a fresh peer's; returns (server, peer)."""
    servers: list[OscServer] = []

    def start(scorer=None, **kw) -> tuple[OscServer, OscPeer]:
        client = peer()
        server = OscServer({MODEL: scorer or make_scorer(model_files)}, port=0, reply_port=client.port, **kw)
        servers.append(server.start())
        return server, client.talk_to(server.address)

    yield start
    for s in servers:
        s.stop()


def _take(tmp_path: Path, name: str = "take.wav", seconds: float = 2.0, seed: int = 3) -> Path:
    return write_audio(tmp_path / name, tone(seconds, freq=137.5, amp=0.35, seed=seed))


def settle(*paths: Path) -> None:
    """Age files past the server's 'still being written' window, as a finished recording would be."""
    old = time.time() - 5
    for p in paths:
        os.utime(p, (old, old))


def test_score_replies_once_with_result_fields_and_flags_noise(serve, tmp_path):
    _server, client = serve()
    clean, noise = _take(tmp_path), noise_take(tmp_path / "noise.wav")
    settle(clean, noise)
    client.send("/loopbridge/score", 1, str(clean))
    client.send("/loopbridge/score", 2, str(noise), MODEL)
    addr, (rid, path, model, score, threshold, flag, ms) = client.terminal(1)
    assert addr == "/loopbridge/result"
    assert rid == 1
    assert path == str(clean)
    assert model == MODEL
    assert np.isfinite(score)
    assert threshold > 0
    assert flag == 0
    assert ms > 0
    addr, (rid, _, _, noise_score, _, noise_flag, _) = client.terminal(2)
    assert addr == "/loopbridge/result"
    assert noise_flag == 1
    assert noise_score > threshold
    time.sleep(0.3)
    assert [m[0] for m in client.for_id(1)] == ["/loopbridge/result"]  # exactly one reply


def test_ping_reports_protocol_version_and_provider(serve):
    _server, client = serve(provider="CPUExecutionProvider")
    client.send("/loopbridge/ping")
    version, lb_version, provider = client.next_of("/loopbridge/pong")
    assert version == protocol.PROTOCOL_VERSION
    assert provider == "CPUExecutionProvider"
    assert lb_version


def test_models_and_sensitivity_use_the_bundles_training_scores(serve, model_files, tmp_path):
    scorer = make_scorer(model_files)
    _server, client = serve(scorer)
    client.send("/loopbridge/models")
    name, encoder, primary, quantile, *pairs = client.next_of("/loopbridge/model")
    heads = dict(zip(pairs[::2], pairs[1::2], strict=False))
    assert (name, encoder, quantile) == (MODEL, "mel-stats", pytest.approx(0.95))
    assert pairs[0] == primary
    assert set(heads) == set(scorer.bundle.heads)
    assert heads[primary] == pytest.approx(scorer.bundle.thresholds[primary], rel=1e-6)

    client.send("/loopbridge/sensitivity", MODEL, 0.5)  # a float, as Pure Data sends
    *_, quantile, head, threshold = client.next_of("/loopbridge/model")[:6]
    expected = float(np.quantile(scorer.bundle.training_scores[primary], 0.5))
    assert quantile == pytest.approx(0.5)
    assert head == primary
    assert threshold == pytest.approx(expected, rel=1e-6)
    take = _take(tmp_path)
    settle(take)
    client.send("/loopbridge/score", 5, str(take))
    assert client.terminal(5)[1][4] == pytest.approx(expected, rel=1e-6)

    client.send("/loopbridge/sensitivity", MODEL, 1.5)
    client.send("/loopbridge/sensitivity", "nope", 0.9)
    assert client.next_of("/loopbridge/error")[:2] == [protocol.NO_ID, protocol.BAD_ARGUMENT]
    assert client.next_of("/loopbridge/error")[:2] == [protocol.NO_ID, protocol.UNKNOWN_MODEL]


def _bad_inputs(tmp: Path) -> dict[str, tuple[tuple, str | None]]:
    """name → ((address, *args) or raw bytes, expected error code or None for 'logged, no reply')."""
    (tmp / "folder.wav").mkdir()
    (tmp / "notes.wav").write_text("not audio at all")
    (tmp / "zero.wav").write_bytes(b"")
    write_audio(tmp / "nan.wav", np.full(4800, np.nan, np.float32), subtype="FLOAT")
    write_audio(tmp / "long.wav", tone(3.0))
    outside = write_audio(tmp.parent / f"{tmp.name}_outside" / "x.wav", tone(1.0))
    (tmp / "root" / "link.wav").parent.mkdir()
    os.symlink(outside, tmp / "root" / "link.wav")
    settle(*[p for p in tmp.rglob("*") if p.is_file() and not p.is_symlink()], outside)
    return {
        "file does not exist": (("/loopbridge/score", 1, str(tmp / "nope.wav")), "missing"),
        "directory": (("/loopbridge/score", 1, str(tmp / "folder.wav")), "is_directory"),
        "not audio": (("/loopbridge/score", 1, str(tmp / "notes.wav")), "not_audio"),
        "zero length": (("/loopbridge/score", 1, str(tmp / "zero.wav")), "empty"),
        "NaN samples": (("/loopbridge/score", 1, str(tmp / "nan.wav")), "non_finite"),
        "too long": (("/loopbridge/score", 1, str(tmp / "long.wav")), "too_long"),
        "outside allow-root": (("/loopbridge/score", 1, str(outside)), protocol.OUTSIDE_ROOT),
        "symlink out of root": (("/loopbridge/score", 1, str(tmp / "root" / "link.wav")), protocol.OUTSIDE_ROOT),
        "dot-dot out of root": (
            ("/loopbridge/score", 1, str(tmp / "root" / ".." / ".." / outside.parent.name / "x.wav")),
            protocol.OUTSIDE_ROOT,
        ),
        "relative path": (("/loopbridge/score", 1, "take.wav"), protocol.BAD_ARGUMENT),
        "path is a number": (("/loopbridge/score", 1, 42.5), protocol.BAD_ARGUMENT),
        "id is a fraction": (("/loopbridge/score", 1.5, str(tmp / "long.wav")), protocol.BAD_ARGUMENT),
        "missing arguments": (("/loopbridge/score",), protocol.MISSING_ARGUMENT),
        "missing path": (("/loopbridge/score", 1), protocol.MISSING_ARGUMENT),
        "too many arguments": (("/loopbridge/score", 1, "/a.wav", "m", "x"), protocol.BAD_ARGUMENT),
        "unknown model": (("/loopbridge/score", 1, str(tmp / "long.wav"), "nope"), protocol.UNKNOWN_MODEL),
        "bad reply port": (("/loopbridge/ping", 70000), protocol.BAD_ARGUMENT),
        "unknown address with id": (("/loopbridge/scorch", 1, "/a.wav"), protocol.UNKNOWN_ADDRESS),
        "unknown address without id": (("/other/thing", "hello"), None),
        "garbage datagram": (b"\x00\xffnot osc at all", None),
        "malformed OSC": (b"/loopbridge/score\x00\x00\x00,is\x00\x00\x00", None),
        "wildcard address": (("/loopbridge/*", 1, "/a.wav"), protocol.UNKNOWN_ADDRESS),
    }


@pytest.mark.parametrize(
    "case",
    [
        "file does not exist",
        "directory",
        "not audio",
        "zero length",
        "NaN samples",
        "too long",
        "outside allow-root",
        "symlink out of root",
        "dot-dot out of root",
        "relative path",
        "path is a number",
        "id is a fraction",
        "missing arguments",
        "missing path",
        "too many arguments",
        "unknown model",
        "bad reply port",
        "unknown address with id",
        "unknown address without id",
        "garbage datagram",
        "malformed OSC",
        "wildcard address",
    ],
)
def test_bad_input_gets_a_clear_error_and_the_next_request_succeeds(serve, tmp_path, case, caplog):
    data = tmp_path / "data"
    data.mkdir()
    cases = _bad_inputs(data)
    request, code = cases[case]
    _server, client = serve(allow_roots=[data.resolve()], max_seconds=2.5)
    good = _take(data, "good.wav")
    settle(good)
    with caplog.at_level(logging.INFO, logger="loopbridge.server"):
        if isinstance(request, bytes):
            client.send_raw(request)
        else:
            client.send(*request)
        client.send("/loopbridge/score", 77, str(good))
        assert client.terminal(77)[0] == "/loopbridge/result"
    errors = [p for a, p in client.inbox if a == "/loopbridge/error"]
    if code is None:
        logged = [r.getMessage() for r in caplog.records if r.name == "loopbridge.server.app"]
        assert errors == []
        assert any("ignored" in m for m in logged), "ignored input must at least be logged"
    else:
        assert len(errors) == 1, errors
        assert errors[0][1] == code, errors
        assert errors[0][2], errors
        if case in ("file does not exist", "directory", "not audio"):
            assert "good.wav" not in errors[0][2]


def test_reasons_from_the_checks_arrive_most_severe_first_before_the_result(serve, tmp_path):
    _server, client = serve()
    take = noise_take(tmp_path / "harsh.wav")  # full-scale noise: clips, too loud, hiss
    settle(take)
    client.send("/loopbridge/score", 3, str(take))
    client.terminal(3)
    msgs = client.for_id(3)
    kinds = [a for a, _ in msgs]
    assert kinds[-1] == "/loopbridge/result"
    assert set(kinds[:-1]) == {"/loopbridge/reason"}
    assert len(kinds) >= 2
    reasons = [p for _, p in msgs[:-1]]
    assert "clipping" in [r[1] for r in reasons]
    severities = [r[2] for r in reasons]
    assert severities == sorted(severities, reverse=True)
    assert all(0 <= s <= 1 for s in severities)
    assert all(r[5] and r[3] >= 0 and r[4] >= 0 for r in reasons)
    assert msgs[-1][1][5] == 1


def test_reasons_arrive_in_order_before_the_result_with_an_injected_scorer(serve, model_files, tmp_path):
    """Dependency injection: a real Scorer whose results gain two findings, as the checks will add them."""
    real = make_scorer(model_files)
    findings = [
        Finding("clipping", 0.9, 2.31, 0.01, "clipped 34 samples around 2.31 s"),
        Finding("dc_offset", 0.4, 0.0, 2.0, "DC offset of 3 %"),
    ]

    class WithReasons:
        bundle = real.bundle

        def score_clips(self, clips, contexts=None):
            return [replace(r, reasons=findings) for r in real.score_clips(clips, contexts)]

    _server, client = serve(WithReasons())
    take = _take(tmp_path)
    settle(take)
    client.send("/loopbridge/score", "take-1", str(take))
    client.terminal("take-1")
    msgs = client.for_id("take-1")
    assert [a for a, _ in msgs] == ["/loopbridge/reason", "/loopbridge/reason", "/loopbridge/result"]
    assert msgs[0][1][1:3] == ["clipping", pytest.approx(0.9)]
    assert msgs[0][1][5] == findings[0].message
    assert msgs[1][1][1] == "dc_offset"
    assert msgs[2][1][5] == 1


def _grow(path: Path, data: bytes, pieces: int, every_s: float) -> threading.Thread:
    """Write a file the way a recorder does: header first (before this returns), then audio, bit by bit."""
    step = len(data) // pieces + 1
    f = open(path, "wb")
    f.write(data[:step])
    f.flush()

    def run() -> None:
        with f:
            for i in range(step, len(data), step):
                time.sleep(every_s)
                f.write(data[i : i + step])
                f.flush()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_take_still_being_written_is_scored_when_complete(serve, tmp_path):
    _server, client = serve(wait_s=3.0)
    whole = _take(tmp_path, "whole.wav")
    settle(whole)
    client.send("/loopbridge/score", 1, str(whole))
    expected = client.terminal(1)[1][3]
    writer = _grow(tmp_path / "growing.wav", whole.read_bytes(), pieces=10, every_s=0.15)  # pauses > QUIET_S
    client.send("/loopbridge/score", 2, str(tmp_path / "growing.wav"))
    addr, args = client.terminal(2)
    writer.join()
    assert addr == "/loopbridge/result"
    assert args[3] == pytest.approx(expected, rel=1e-6)


def test_take_that_keeps_growing_past_the_wait_is_incomplete(serve, tmp_path):
    _server, client = serve(wait_s=0.5)
    data = tmp_path / "src.wav"
    write_audio(data, tone(6.0))
    writer = _grow(tmp_path / "endless.wav", data.read_bytes(), pieces=40, every_s=0.05)
    client.send("/loopbridge/score", 1, str(tmp_path / "endless.wav"))
    addr, args = client.terminal(1)
    writer.join()
    assert addr == "/loopbridge/error"
    assert args[1] == protocol.INCOMPLETE


def test_batch_folder_sends_progress_results_file_errors_and_done(serve, tmp_path):
    _server, client = serve()
    folder = tmp_path / "track"
    good = [_take(folder, f"clip_{i}.wav", seed=i) for i in range(3)] + [_take(folder / "sub", "deep.wav")]
    (folder / "broken.wav").write_text("nope")
    settle(*good, folder / "broken.wav")
    client.send("/loopbridge/batch", 9, str(folder), str(tmp_path / "missing.wav"))
    addr, done = client.terminal(9, batch=True)
    msgs = client.for_id(9)
    assert addr == "/loopbridge/done"
    assert msgs[-1][0] == "/loopbridge/done"
    assert done[1:] == [4, 0, 2]  # 4 scored, none flagged, broken + missing failed
    results = [p for a, p in msgs if a == "/loopbridge/result"]
    assert sorted(Path(p[1]).name for p in results) == ["clip_0.wav", "clip_1.wav", "clip_2.wav", "deep.wav"]
    failed = {Path(p[1]).name: p[2] for a, p in msgs if a == "/loopbridge/file_error"}
    assert failed == {"broken.wav": "not_audio", "missing.wav": "missing"}
    progress = [p for a, p in msgs if a == "/loopbridge/progress"]
    assert progress[0][1:] == [0, 6]
    assert progress[-1][1:] == [6, 6]


def test_take_goes_before_the_rest_of_a_long_batch(serve, tmp_path):
    _server, client = serve()
    clip = _take(tmp_path, "clip.wav", seconds=4.0)
    take = _take(tmp_path, "take.wav")
    settle(clip, take)
    client.send("/loopbridge/batch", 1, *[str(clip)] * 80)
    client.send("/loopbridge/score", 2, str(take))
    client.terminal(1, timeout=120, batch=True)
    order = [(a, p[0]) for a, p in client.inbox if a == "/loopbridge/result"]
    take_at = order.index(("/loopbridge/result", 2))
    assert take_at < len(order) - 40, f"the take waited behind the batch (position {take_at} of {len(order)})"


def test_a_batch_keeps_its_fair_share_under_a_stream_of_takes(serve, tmp_path):
    """One micro-batch after every TAKES_PER_BATCH_STEP takes: the batch ends long before the stream does."""
    from loopbridge.server.worker import TAKES_PER_BATCH_STEP

    _server, client = serve(micro_batch=2, queue_size=128)
    clip = _take(tmp_path, "clip.wav", seconds=1.0)
    settle(clip)
    client.send("/loopbridge/batch", 1, *[str(clip)] * 6)  # 3 micro-batches
    client.receive(lambda box: any(a == "/loopbridge/progress" for a, _ in box))
    for i in range(100, 160):
        client.send("/loopbridge/score", i, str(clip))
    client.terminal(1, batch=True, timeout=120)
    client.receive(lambda box: sum(a == "/loopbridge/result" and p[0] >= 100 for a, p in box) == 60, timeout=120)
    done_at = next(i for i, (a, p) in enumerate(client.inbox) if a == "/loopbridge/done")
    takes_before = [p[0] for a, p in client.inbox[:done_at] if a == "/loopbridge/result" and p[0] >= 100]
    assert len(takes_before) <= 3 * TAKES_PER_BATCH_STEP + 2, f"the batch waited behind {len(takes_before)} takes"


def test_full_queue_answers_busy_and_cancel_stops_a_batch(serve, tmp_path):
    _server, client = serve(queue_size=1)
    clip = _take(tmp_path, "clip.wav", seconds=4.0)
    settle(clip)
    client.send("/loopbridge/batch", 1, *[str(clip)] * 80)
    client.send("/loopbridge/score", 2, str(clip))
    assert client.terminal(2)[1][:2] == [2, protocol.BUSY]
    client.send("/loopbridge/cancel", 1)
    addr, (_rid, scored, _flagged, failed) = client.terminal(1, timeout=120, batch=True)
    assert addr == "/loopbridge/done"
    assert scored < 80
    assert failed == 0
    client.inbox.clear()
    client.send("/loopbridge/cancel", 1)
    assert client.next_of("/loopbridge/error")[:2] == [1, protocol.UNKNOWN_ID]
    client.send("/loopbridge/score", 3, str(clip))
    assert client.terminal(3)[0] == "/loopbridge/result"


def test_a_request_may_name_its_own_reply_port(serve, peer, tmp_path):
    server, first = serve()
    second = peer().talk_to(server.address)
    take = _take(tmp_path)
    settle(take)
    second.send("/loopbridge/score", 4, str(take), second.port)  # a trailing number is the reply port
    second.send("/loopbridge/ping", float(second.port))  # Pure Data sends numbers as floats
    assert second.terminal(4)[0] == "/loopbridge/result"
    assert second.next_of("/loopbridge/pong")[0] == protocol.PROTOCOL_VERSION
    time.sleep(0.2)
    assert first.inbox == []


def test_serving_beyond_loopback_needs_an_allow_root(model_files, tmp_path):
    with pytest.raises(LoopbridgeError, match="allow-root"):
        OscServer({MODEL: make_scorer(model_files)}, host="0.0.0.0", port=0)
    server = OscServer({MODEL: make_scorer(model_files)}, host="0.0.0.0", port=0, allow_roots=[tmp_path])
    assert server.address[0] == "0.0.0.0"
    server.stop()


def test_server_writes_nothing_in_the_users_folders(serve, tmp_path):
    folder = tmp_path / "music"
    files = [_take(folder, f"t{i}.wav", seed=i) for i in range(3)]
    settle(*files)
    before = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*"))
    _server, client = serve()
    client.send("/loopbridge/score", 1, str(files[0]))
    client.send("/loopbridge/batch", 2, str(folder))
    client.terminal(1), client.terminal(2, batch=True)
    assert sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")) == before


def test_a_port_in_use_is_a_clear_error(model_files):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(LoopbridgeError, match=r"cannot listen on 127\.0\.0\.1"):
            OscServer({MODEL: make_scorer(model_files)}, port=taken.getsockname()[1])


def test_a_batch_request_over_8_kb_is_read_whole(serve, tmp_path):
    _server, client = serve()
    take = _take(tmp_path / ("x" * 200), "take.wav")
    settle(take)
    client.send("/loopbridge/batch", 5, *[str(take)] * 60)  # about 14 KB
    addr, args = client.terminal(5, batch=True, timeout=120)
    assert addr == "/loopbridge/done"
    assert args[1:] == [60, 0, 0]
