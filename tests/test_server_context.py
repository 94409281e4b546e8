"""`score`'s named arguments over real UDP on 127.0.0.1: regions, song context, siblings, ids in any form."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_audio
from helpers_server import MODEL, OscPeer, make_scorer

from loopbridge import synth
from loopbridge.context import TakeContext
from loopbridge.server import protocol
from loopbridge.server.app import OscServer


@pytest.fixture
def serve(model_files):
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


def test_the_device_s_context_reaches_the_scorer_with_siblings_resolved(serve, model_files, tmp_path):
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


def _played(path: Path, part: synth.Part, seed: int, defect: str | None = None) -> synth.Defect | None:
    loop, info = synth.play_part(part, seed, defect=defect, strength=0.6, channels=2)
    sf.write(path, loop.samples, loop.sample_rate, subtype="PCM_24")
    _settled(path)
    return info


def test_a_take_with_siblings_gets_its_context_and_its_standing_before_the_result(serve, tmp_path):
    """`context` first, reasons, `compare` (rank among the take and its siblings), then `result`."""
    _server, client = serve()
    part = synth.make_part(6, instrument="guitar", style="clean", bpm=96, bars=2, swing=0.0)
    earlier = [tmp_path / f"take_{k}.wav" for k in range(3)]
    for k, p in enumerate(earlier):
        _played(p, part, 40 + k)
    slipped = tmp_path / "take_late.wav"
    slip = _played(slipped, part, 50, "timing_slip")
    siblings = [a for p in earlier for a in ("sibling", str(p))]
    client.send("/loopbridge/score", 1, str(slipped), "bpm", 96, "key", part.key, *siblings)
    client.send(
        "/loopbridge/score", 2, str(earlier[0]), *[a for p in (*earlier[1:], slipped) for a in ("sibling", str(p))]
    )
    client.send("/loopbridge/score", 3, str(earlier[1]))  # nothing musical known: neither reply
    for rid in (1, 2, 3):
        assert client.terminal(rid, timeout=120)[0] == "/loopbridge/result"
    late, clean, plain = client.for_id(1), client.for_id(2), client.for_id(3)

    addresses = [a for a, _ in late]
    assert addresses[0] == "/loopbridge/context"
    assert addresses[-2:] == ["/loopbridge/compare", "/loopbridge/result"]
    assert set(addresses[1:-2]) == {"/loopbridge/reason"}
    assert late[0][1] == [1, 96.0, part.key, "4/4", "request", "request", "default"]
    _, rank, of, measure, departs_s, text = late[-2][1]
    assert (of, measure) == (4, "timing")
    assert rank > 1  # the slipped take is not the tightest of the four
    assert slip.start_s - 0.05 < departs_s < slip.start_s + slip.duration_s
    assert "the other takes" in text
    assert not text.startswith("take ")

    context = clean[0][1]
    assert clean[0][0] == "/loopbridge/context"
    assert context[4] in ("estimate", "unknown")
    assert context[5] in ("estimate", "unknown")
    compared = [p for a, p in clean if a == "/loopbridge/compare"]
    assert len(compared) == 1
    assert compared[0][2] == 4
    assert compared[0][1] < rank  # a clean take ranks above the slipped one
    assert (compared[0][1] == 1) == (compared[0][5] == "tightest so far")
    assert {a for a, _ in plain} <= {"/loopbridge/reason", "/loopbridge/result"}  # technical reasons only
