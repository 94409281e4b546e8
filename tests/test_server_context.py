"""`score`'s named arguments over real UDP on 127.0.0.1: regions, song context, siblings, ids in any form."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import tone, write_audio
from helpers_server import MODEL, OscPeer, make_scorer, model_files  # noqa: F401 - model_files is a fixture

from loopbridge.context import TakeContext
from loopbridge.server import protocol
from loopbridge.server.app import OscServer


@pytest.fixture
def serve(model_files):  # noqa: F811 - the fixture imported above
    made: list[tuple[OscServer, OscPeer]] = []

    def start(scorer=None, **kw) -> tuple[OscServer, OscPeer]:
        client = OscPeer()
        server = OscServer({MODEL: scorer or make_scorer(model_files)}, port=0, reply_port=client.port, **kw).start()
        made.append((server, client))
        return server, client.talk_to(server.address)

    yield start
    for server, client in made:
        server.stop()
        client.close()


def _settled(path: Path) -> Path:
    old = time.time() - 5
    os.utime(path, (old, old))
    return path


def _clean_then_harsh(path: Path) -> Path:
    """2 s of a plucked tone, then 2 s of full-scale noise: only the second region is off."""
    rng = np.random.default_rng(5)
    harsh = (0.999 * np.sign(rng.uniform(-1, 1, 96_000))).astype(np.float32)
    return _settled(write_audio(path, np.concatenate([tone(2.0, freq=137.5, amp=0.35, seed=3), harsh])))


class Recording:
    """A real Scorer that also keeps the contexts it was given (what the server passed down)."""

    def __init__(self, real) -> None:
        self.real, self.bundle, self.contexts = real, real.bundle, []

    def score_clips(self, clips, contexts=None):
        self.contexts += list(contexts or [None] * len(clips))
        return self.real.score_clips(clips, contexts)


def test_only_the_region_is_judged_and_reason_times_start_at_the_region(serve, tmp_path):
    _server, client = serve()
    take = _clean_then_harsh(tmp_path / "passes.wav")
    client.send("/loopbridge/score", 1, str(take), "start_s", 0.0, "end_s", 2.0)
    client.send("/loopbridge/score", 2, str(take), "start_s", 2, "end_s", 4)  # ints, as Max sends whole numbers
    assert client.terminal(1)[0] == "/loopbridge/result"
    assert client.terminal(2)[0] == "/loopbridge/result"
    first, second = client.for_id(1), client.for_id(2)
    assert [a for a, _ in first] == ["/loopbridge/result"]  # the clean pass: nothing found
    assert first[-1][1][5] == 0
    reasons = [p for a, p in second if a == "/loopbridge/reason"]
    assert second[-1][1][5] == 1
    assert "clipping" in [r[1] for r in reasons]
    assert all(0.0 <= r[3] < 2.0 and r[3] + r[4] <= 2.0 + 1e-3 for r in reasons), reasons  # region time, not file


def test_named_values_are_not_the_reply_port(serve, tmp_path):
    """`score 31 "/take.wav" start_s 0.0 end_s 4.0` used to reply at port 4; it answers at the reply port."""
    _server, client = serve()
    take = _clean_then_harsh(tmp_path / "take.wav")
    client.send("/loopbridge/score", 31, str(take), "start_s", 0.0, "end_s", 4.0)
    assert client.terminal(31)[0] == "/loopbridge/result"


def test_the_device_s_context_reaches_the_scorer_with_siblings_resolved(serve, model_files, tmp_path):  # noqa: F811
    scorer = Recording(make_scorer(model_files))
    _server, client = serve(scorer)
    take = _clean_then_harsh(tmp_path / "Gtr 0003.wav")
    sibling = _clean_then_harsh(tmp_path / "Gtr 0001.wav")
    os.symlink(sibling, tmp_path / "link.wav")
    client.send(
        "/loopbridge/score", 81000, str(take), MODEL, "start_s", 0, "end_s", 2.0, "bpm", 120,
        "meter", "4/4", "key", "A Minor", "sibling", str(tmp_path / "link.wav"), client.port,
    )  # fmt: skip
    assert client.terminal(81000)[0] == "/loopbridge/result"
    assert scorer.contexts == [
        TakeContext(
            bpm=120.0, key="A Minor", meter="4/4", start_s=0.0, end_s=2.0, siblings=(str(sibling),), source="request"
        )
    ]


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (("tempo", 120), protocol.BAD_ARGUMENT, "'tempo'"),
        (("start_s", 3.0, "end_s", 1.0), protocol.BAD_REGION, "end_s"),
        (("start_s", 9.0), protocol.BAD_REGION, "outside the file"),
        (("sibling", "/elsewhere/x.wav"), protocol.OUTSIDE_ROOT, "outside"),
    ],
)
def test_bad_named_arguments_get_one_clear_error(serve, tmp_path, extra, code, words):
    _server, client = serve(allow_roots=[tmp_path.resolve()])
    take = _clean_then_harsh(tmp_path / "take.wav")
    client.send("/loopbridge/score", 5, str(take), *extra)
    addr, args = client.terminal(5)
    assert (addr, args[1]) == ("/loopbridge/error", code)
    assert words in args[2]
    client.send("/loopbridge/score", 6, str(take))
    assert client.terminal(6)[0] == "/loopbridge/result"
    assert len(client.for_id(5)) == 1


def test_cancel_finds_a_take_sent_with_its_id_in_another_form(serve, tmp_path):
    _server, client = serve(wait_s=5.0)
    waiting = tmp_path / "recording.wav"
    waiting.write_bytes(b"")  # Live has created it and not written yet: waited for
    client.send("/loopbridge/score", "213", str(waiting))
    time.sleep(0.3)
    client.send("/loopbridge/cancel", 213)
    addr, args = client.terminal("213")
    assert (addr, args[:2]) == ("/loopbridge/error", ["213", protocol.CANCELLED])  # the form the client sent
    client.send("/loopbridge/score", 214.0, str(waiting))  # Pure Data: a float id is the id 214
    time.sleep(0.3)
    client.send("/loopbridge/cancel", "214")
    addr, args = client.terminal(214)
    assert (addr, args[:2]) == ("/loopbridge/error", [214, protocol.CANCELLED])
