"""Long takes are judged block by block (bounded memory) by `score`, the server's takes and its batches.

The block length is shortened here so a 12 s take has three blocks; benchmarks/memory.py measures a 30-minute one.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from conftest import tone, write_audio
from helpers_server import MODEL, OscPeer, make_scorer

from loopbridge import audio, pipeline
from loopbridge.context import TakeContext
from loopbridge.server.app import OscServer


@pytest.fixture(autouse=True)
def short_blocks(monkeypatch):
    monkeypatch.setattr(pipeline, "LONG_TAKE_S", 5.0)
    monkeypatch.setattr(pipeline, "BLOCK_S", 4.0)


def _long_take(path, clip_at: float = 9.0):
    """12 s of a plucked tone with 0.5 s driven into clipping at `clip_at`."""
    y = tone(12.0, freq=137.5, amp=0.35, seed=3)
    a, b = int(clip_at * 48_000), int((clip_at + 0.5) * 48_000)
    y[a:b] = np.clip(y[a:b] * 8, -1, 1)
    take = write_audio(path, y.astype(np.float32))
    old = time.time() - 5
    os.utime(take, (old, old))
    return take


def test_load_blocks_covers_the_take_in_equal_blocks(tmp_path):
    take = _long_take(tmp_path / "t.wav")
    blocks = list(audio.load_blocks(take, audio.probe(take), block_s=4.0))
    assert [b.region for b in blocks] == [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0)]
    assert sum(b.native.samples.shape[0] for b in blocks) == 12 * 48_000
    part = audio.probe(take, region=(2.0, None))
    assert next(b.region for b in audio.load_blocks(take, part, block_s=4.0)) == (2.0, 7.0)


def test_a_long_take_is_scored_in_blocks_with_reasons_placed_in_the_take(model_files, tmp_path):
    scorer = make_scorer(model_files)
    take = _long_take(tmp_path / "long.wav")
    (whole,), failures = scorer.score_files([take])
    assert failures == []
    assert whole.duration_s == pytest.approx(12.0)
    clipping = [f for f in whole.reasons if f.kind == "clipping"]
    assert clipping
    assert 8.9 <= clipping[0].start_s <= 9.6
    assert whole.flag
    (part,), _ = scorer.score_files([take], contexts=[TakeContext(start_s=2.0, source="cli")])
    assert part.region == (pytest.approx(2.0), pytest.approx(12.0))
    assert 6.9 <= next(f for f in part.reasons if f.kind == "clipping").start_s <= 7.6  # from the region's start


def test_a_long_takes_header_is_read_once_and_each_block_once(model_files, tmp_path, monkeypatch):
    """score_files probes the file and hands what it read down; each block opens the file once more to decode."""
    scorer = make_scorer(model_files)
    take = _long_take(tmp_path / "long.wav")
    opened: list[str] = []
    real_open = audio._open

    def counting_open(p):
        opened.append(str(p))
        return real_open(p)

    monkeypatch.setattr(audio, "_open", counting_open)
    (whole,), _ = scorer.score_files([take], contexts=[TakeContext(start_s=2.0, source="cli")])
    assert whole.region == (pytest.approx(2.0), pytest.approx(12.0))
    assert opened == [str(take)] * (1 + 2)  # the probe, then the two 5 s blocks of 2-12 s


def test_the_server_scores_long_takes_and_batches_in_blocks(model_files, tmp_path):
    client = OscPeer()
    server = OscServer({MODEL: make_scorer(model_files)}, port=0, reply_port=client.port).start()
    try:
        client.talk_to(server.address)
        take = _long_take(tmp_path / "long.wav")
        client.send("/loopbridge/score", 1, str(take))
        addr, _args = client.terminal(1)
        assert addr == "/loopbridge/result"
        reasons = [p for a, p in client.for_id(1) if a == "/loopbridge/reason"]
        assert any(r[1] == "clipping" and 8.9 <= r[3] <= 9.6 for r in reasons), reasons
        client.send("/loopbridge/batch", 2, str(take), str(take))
        addr, done = client.terminal(2, batch=True)
        assert done[1:] == [2, 2, 0]
    finally:
        server.stop()
        client.close()


def test_the_embeddings_handed_back_follow_the_results_and_a_long_take_gives_its_worst_block(model_files, tmp_path):
    """What browse puts on its map: one embedding per result, in order; a long take's is the block that scored worst."""
    scorer = make_scorer(model_files)
    short = write_audio(tmp_path / "short.wav", tone(3.0, seed=5))
    take = _long_take(tmp_path / "long.wav")
    kept: list[np.ndarray] = []
    results, _ = scorer.score_files([short, take], embeddings=kept)
    assert sorted(r.path for r in results) == sorted([str(short), str(take)])
    assert len(kept) == len(results)
    by_path = {r.path: (r, e) for r, e in zip(results, kept, strict=True)}
    np.testing.assert_allclose(by_path[str(short)][1], scorer.encoder.embed_clips([audio.load(short)])[0], rtol=1e-5)
    blocks = [audio.load(take, region=b.region) for b in audio.load_blocks(take, audio.probe(take), pipeline.BLOCK_S)]
    per_block = scorer.encoder.embed_clips(blocks)
    long_result, long_embedding = by_path[str(take)]
    worst = int(np.argmax(scorer.bundle.scores(per_block)[long_result.head]))
    np.testing.assert_allclose(long_embedding, per_block[worst], rtol=1e-5, atol=1e-6)
