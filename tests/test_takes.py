"""Cutting a live input into takes (for `loopbridge listen`)."""

import numpy as np

from loopbridge.takes import TakeSplitter

SR = 48_000


def _blocks(y: np.ndarray, size: int = 512):
    for i in range(0, len(y), size):
        yield y[i : i + size]


def test_two_phrases_separated_by_silence_become_two_takes_with_their_decay() -> None:
    t = np.arange(SR) / SR
    phrase = (0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t))[:, None].astype(np.float32)
    gap = np.zeros((2 * SR, 1), np.float32)
    stream = np.concatenate([gap[: SR // 2], phrase, gap, phrase * 0.8, gap])
    splitter = TakeSplitter(SR, gate_db=-45, release_s=1.0)
    takes = [take for block in _blocks(stream) for take in splitter.feed(block)]
    assert len(takes) == 2
    assert not splitter.recording
    for take in takes:
        assert take.shape[1] == 1
        assert SR <= len(take) <= SR + 1.2 * SR  # the phrase plus about one release of decay/silence
        onset = int(np.argmax(np.abs(take[:, 0]) > 0.01))
        assert 0 < onset <= 0.05 * SR + 2 * 512  # pre-roll (+ up to a block each side), then the attack


def test_blips_shorter_than_min_take_are_ignored_and_long_takes_are_cut() -> None:
    blip = np.zeros((SR * 2, 2), np.float32)
    blip[1000:1100] = 0.5
    splitter = TakeSplitter(SR, release_s=0.5, min_take_s=0.8)
    assert [t for b in _blocks(blip) for t in splitter.feed(b)] == []
    drone = np.full((SR * 3, 2), 0.2, np.float32)
    splitter = TakeSplitter(SR, max_take_s=1.0)
    takes = [t for b in _blocks(drone) for t in splitter.feed(b)]
    assert len(takes) == 2
    assert all(abs(len(t) - SR) <= 512 for t in takes)
    assert splitter.flush() is not None  # the remainder is a take when the stream stops


def test_listen_stream_scores_each_take_with_a_real_model(lb_home, tmp_path) -> None:
    """The `loopbridge listen` path minus the sound card: stream → takes → real bundle → flags, takes saved."""
    from loopbridge import synth
    from loopbridge.cli import main
    from loopbridge.pipeline import Scorer
    from loopbridge.takes import score_stream

    lib = tmp_path / "lib"
    synth.write_library(lib, n_clean=24, n_per_defect=0, seed=3, channels=2, kinds=())
    assert main(["fit", str(lib), "--name", "live", "--encoder", "mel-stats", "--heads", "knn", "--no-progress"]) == 0
    scorer = Scorer("live")

    clean = synth.make_loop(99, instrument="bass", channels=2, bars=2, wrap_tail=False).samples
    noisy = np.clip(clean + 0.7 * np.random.default_rng(0).standard_normal(clean.shape), -1, 1).astype(np.float32)
    gap = np.zeros((2 * SR, 2), np.float32)
    stream = np.concatenate([gap, clean, gap, noisy, gap])
    results = list(
        score_stream(_blocks(stream, 1024), TakeSplitter(SR, release_s=1.0), scorer.score_clips, tmp_path / "takes")
    )
    assert len(results) == 2
    assert [r.head_flag for r in results] == [False, True]
    saved = sorted((tmp_path / "takes").glob("take-*.wav"))
    assert [r.path for r in results] == [str(p) for p in saved]
