"""When a take on disk counts as finished, and which paths a server may read."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_audio

from loopbridge.errors import AudioError
from loopbridge.server import files


def _age(path: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def _watch(path: Path, **kw) -> files.Watch:
    return files.Watch(path, **kw)


def test_a_finished_take_loads_at_once_and_a_fresh_one_settles_first(tmp_path):
    take = write_audio(tmp_path / "t.wav", tone(0.5))
    fresh = _watch(take)
    assert fresh.poll() is None  # just written: Live may still be writing
    assert fresh.settle_s == files.SETTLE_S
    assert _watch(_age(take, 1.0)).poll().samples.size == 24_000  # untouched for a while before the request
    assert _watch(take).settle_s == files.QUIET_S


def test_odd_sized_pcm24_is_not_mistaken_for_a_file_being_written(tmp_path):
    take = write_audio(tmp_path / "odd.wav", tone(0.5)[:-1], subtype="PCM_24")  # odd data chunk: a libsndfile remark
    assert _watch(_age(take, 1.0)).poll() is not None


def test_a_header_promising_more_audio_waits_then_is_accepted_as_it_is(tmp_path):
    whole = write_audio(tmp_path / "whole.wav", tone(1.0)).read_bytes()
    part = tmp_path / "part.wav"
    part.write_bytes(whole[: len(whole) // 2])
    assert _watch(_age(part, 0.8)).poll() is None  # still being written, as far as anyone can tell
    assert _watch(_age(part, 5.0)).poll().samples.size == pytest.approx(24_000, abs=50)  # a recorder that died


def test_a_finished_file_that_is_not_audio_is_an_error_not_a_wait(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("hello")
    assert _watch(junk).poll() is None
    with pytest.raises(AudioError) as err:
        _watch(_age(junk, 1.0)).poll()
    assert err.value.code == "not_audio"


def _wav_prefix(samples: np.ndarray) -> bytes:
    """A complete, valid WAV of these samples: the header always agrees with the data (the hardest writer)."""
    buf = io.BytesIO()
    sf.write(buf, samples, 48_000, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _bursty_writer(path: Path, samples: np.ndarray, pauses: list[float], start_empty: float = 0.0) -> threading.Thread:
    """Rewrite the file with a longer valid WAV after each pause, as a recorder that flushes in bursts."""
    cuts = np.linspace(0, len(samples), len(pauses) + 2).astype(int)[1:]
    path.write_bytes(b"" if start_empty else _wav_prefix(samples[: cuts[0]]))

    def run() -> None:
        time.sleep(start_empty)
        for cut, pause in zip(cuts[int(not start_empty) :], [*pauses, 0.0], strict=False):
            with open(path, "r+b") as f:  # in place, as a recorder updates its header and appends
                f.write(_wav_prefix(samples[:cut]))
            time.sleep(pause)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _poll_until_done(watch: files.Watch) -> tuple[object, float]:
    t0 = time.monotonic()
    while (clip := watch.poll()) is None:
        time.sleep(files.RETRY_S)
    return clip, time.monotonic() - t0


@pytest.mark.parametrize(
    "pauses",
    [[0.5, 0.5, 0.5], [0.1, 0.5, 0.05, 0.3], [0.05] * 8 + [0.45], [0.2, 0.2, 0.2, 0.2]],
    ids=["long pauses", "irregular", "a long pause late", "steady"],
)
def test_bursty_writers_with_valid_headers_are_read_only_when_done(tmp_path, pauses):
    samples = tone(1.0)
    path = tmp_path / "bursty.wav"
    writer = _bursty_writer(path, samples, pauses)
    clip, _ = _poll_until_done(_watch(path, wait_s=10.0))
    assert not writer.is_alive(), "read before the writer had finished"
    assert clip.samples.size == samples.size


def test_a_file_created_empty_is_waited_for(tmp_path):
    samples = tone(0.5)
    path = tmp_path / "empty first.wav"
    writer = _bursty_writer(path, samples, [0.3], start_empty=1.0)
    clip, took = _poll_until_done(_watch(path, wait_s=3.0))
    assert not writer.is_alive()
    assert clip.samples.size == samples.size
    assert took >= 1.0


def test_a_file_that_stays_empty_is_empty_after_the_wait(tmp_path):
    path = tmp_path / "never.wav"
    path.write_bytes(b"")
    t0 = time.monotonic()
    with pytest.raises(AudioError) as err:
        _poll_until_done(_watch(path, wait_s=0.5))
    assert err.value.code == "empty"
    assert 0.5 <= time.monotonic() - t0 < 2.0
    with pytest.raises(AudioError, match="empty"):  # empty since long before the request: no wait
        _watch(_age(path, 10.0), wait_s=5.0).poll()


def test_special_files_are_refused_at_once(tmp_path):
    fifo = tmp_path / "take.wav"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        t0 = time.monotonic()
        with pytest.raises(AudioError) as err:
            _watch(path, wait_s=3.0).poll()
        assert err.value.code == "not_a_file"
        assert time.monotonic() - t0 < 0.5


def test_a_trailing_slash_on_a_file_is_refused(tmp_path):
    take = write_audio(tmp_path / "take.wav", tone(0.2))
    with pytest.raises(AudioError) as err:
        files.resolve_request_path(str(take) + "/", [])
    assert err.value.code == "bad_argument"
    assert err.value.path.endswith("take.wav/")
    assert files.resolve_request_path(str(tmp_path) + "/", []) == tmp_path.resolve()  # a folder may have one


def test_allow_root_is_checked_after_resolving_symlinks_and_dot_dot(tmp_path):
    root, other = tmp_path / "root", tmp_path / "other"
    root.mkdir(), other.mkdir()
    (root / "in.wav").write_bytes(b"")
    (root / "link.wav").symlink_to(other / "x.wav")
    roots = files.resolve_roots([root])
    assert files.resolve_request_path(str(root / "in.wav"), roots) == (root / "in.wav").resolve()
    for sneaky in (root / "link.wav", root / ".." / "other" / "x.wav"):
        with pytest.raises(AudioError) as err:
            files.resolve_request_path(str(sneaky), roots)
        assert err.value.code == "outside_root"
    assert (
        files.resolve_request_path(str(other / "x.wav"), []) == (other / "x.wav").resolve()
    )  # no roots: loopback only
    with pytest.raises(AudioError):
        files.resolve_roots([tmp_path / "nope"])
