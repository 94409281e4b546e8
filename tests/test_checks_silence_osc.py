"""A silent take through the scorer (as `score` runs it) and over OSC: a real server on 127.0.0.1 sends the
`silence` reason before the result."""

from __future__ import annotations

import os
import time

import numpy as np
from conftest import write_audio
from helpers_server import MODEL, OscPeer, make_scorer

from loopbridge.server.app import OscServer


def test_a_silent_take_gets_a_silence_reason_before_its_result(model_files, tmp_path) -> None:
    take = write_audio(tmp_path / "unarmed.wav", np.zeros((4 * 48_000, 2), np.float32), 48_000, "PCM_24")
    old = time.time() - 5  # a finished recording, past the server's "still being written" window
    os.utime(take, (old, old))
    scorer = make_scorer(model_files)
    (scored,), failures = scorer.score_files([take])  # what `loopbridge score` prints and writes
    assert not failures
    assert [f.kind for f in scored.reasons] == ["silence"]
    assert scored.flag
    client = OscPeer()
    server = OscServer({MODEL: scorer}, port=0, reply_port=client.port).start()
    try:
        client.talk_to(server.address).send("/loopbridge/score", 7, str(take))
        client.terminal(7)
        msgs = client.for_id(7)
    finally:
        server.stop()
        client.close()
    assert [a for a, _ in msgs] == ["/loopbridge/reason", "/loopbridge/result"]
    _, kind, severity, start_s, duration_s, text = msgs[0][1]
    assert (kind, start_s, duration_s) == ("silence", 0.0, 4.0)
    assert severity == 1.0
    assert "nothing was recorded" in text
    assert msgs[1][1][5] == 1  # flagged
