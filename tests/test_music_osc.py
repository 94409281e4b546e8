"""Musical reasons over OSC: a real server on 127.0.0.1 and a real UDP client; the reasons come before the result,
from the request's bpm/key, and from sibling takes; `score` (Scorer.score_files) records the context used."""

from __future__ import annotations

import os
import time

import soundfile as sf
from helpers_server import MODEL, OscPeer, make_scorer

from loopbridge import synth
from loopbridge.context import TakeContext
from loopbridge.server.app import OscServer


def _take(path, part: synth.Part, seed: int, defect: str | None = None):
    loop, info = synth.play_part(part, seed, defect=defect, strength=0.6, channels=2)
    sf.write(path, loop.samples, loop.sample_rate, subtype="PCM_24")
    old = time.time() - 5  # a finished recording, past the server's "still being written" window
    os.utime(path, (old, old))
    return info


def _ask(server: OscServer, client: OscPeer, rid: int, *args) -> list:
    client.talk_to(server.address).send("/loopbridge/score", rid, *args)
    client.terminal(rid, timeout=120)
    return client.for_id(rid)


def test_musical_reasons_reach_the_client_before_the_result(model_files, tmp_path) -> None:
    part = synth.make_part(6, instrument="guitar", style="clean", bpm=96, bars=2, swing=0.0)
    wrong = tmp_path / "take_wrong.wav"
    info = _take(wrong, part, 31, "wrong_note")
    earlier = [tmp_path / f"take_{k}.wav" for k in range(3)]
    for k, p in enumerate(earlier):
        _take(p, part, 40 + k)
    slipped = tmp_path / "take_late.wav"
    slip = _take(slipped, part, 50, "timing_slip")
    scorer = make_scorer(model_files)
    client = OscPeer()
    server = OscServer({MODEL: scorer}, port=0, reply_port=client.port).start()
    try:
        by_key = _ask(server, client, 1, str(wrong), "bpm", float(part.bpm), "key", part.key)
        siblings = [a for p in earlier for a in ("sibling", str(p))]
        by_siblings = _ask(server, client, 2, str(slipped), *siblings)
    finally:
        server.stop()
        client.close()
    addresses = [a for a, _ in by_key]
    assert addresses[-1] == "/loopbridge/result"
    assert addresses[0] == "/loopbridge/context"  # what the reasons were judged against, first
    assert set(addresses[1:-1]) == {"/loopbridge/reason"}
    reasons = {p[1]: p for _, p in by_key[1:-1]}
    assert "wrong_note" in reasons
    _, _, severity, start_s, _, text = reasons["wrong_note"]
    assert severity >= 0.5
    assert abs(start_s - info.start_s) < 0.05
    assert f"is outside {part.key}" in text
    assert by_key[-1][1][5] == 1  # flagged
    timing = [p for a, p in by_siblings if a == "/loopbridge/reason" and p[1] == "timing"]
    assert timing
    assert "the other takes" in timing[0][5]
    assert by_siblings[-1][0] == "/loopbridge/result"
    assert slip.start_s - 0.05 < timing[0][3] < slip.start_s + slip.duration_s


def test_score_records_the_context_it_judged_against(model_files, tmp_path) -> None:
    part = synth.make_part(6, instrument="bass", style="slap", bpm=96, bars=2, swing=0.0)
    named = tmp_path / f"bass_96bpm_{part.key.split()[0].replace('#', 'sharp')}_{part.scale}.wav"
    _take(named, part, 3)
    plain = tmp_path / "plain.wav"
    _take(plain, part, 4)
    scorer = make_scorer(model_files)
    results, failures = scorer.score_files(
        [named, plain], contexts=[None, TakeContext(bpm=96.0, key=part.key, source="request")]
    )
    assert not failures
    by_name, by_request = results
    assert by_name.context["bpm_from"] == by_name.context["key_from"] == "name"
    assert by_name.context["key"] == part.key
    assert by_request.context["bpm_from"] == by_request.context["key_from"] == "request"
