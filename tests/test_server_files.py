"""When a take on disk counts as finished, and which paths a server may read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import tone, write_audio

from loopbridge.errors import AudioError
from loopbridge.server import files


def _age(path: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_a_finished_take_loads_and_a_fresh_one_waits(tmp_path):
    take = write_audio(tmp_path / "t.wav", tone(0.5))
    assert files.try_load(take) is None  # just written: Live may still be writing
    assert files.try_load(_age(take, 1.0)).samples.size == 24_000


def test_odd_sized_pcm24_is_not_mistaken_for_a_file_being_written(tmp_path):
    take = write_audio(tmp_path / "odd.wav", tone(0.5)[:-1], subtype="PCM_24")  # odd data chunk: a libsndfile remark
    assert files.try_load(_age(take, 0.3)) is not None


def test_a_header_promising_more_audio_waits_then_is_accepted_as_it_is(tmp_path):
    whole = write_audio(tmp_path / "whole.wav", tone(1.0)).read_bytes()
    part = tmp_path / "part.wav"
    part.write_bytes(whole[: len(whole) // 2])
    assert files.try_load(_age(part, 0.3)) is None  # still being written, as far as anyone can tell
    assert files.try_load(_age(part, 5.0)).samples.size == pytest.approx(24_000, abs=50)  # a recorder that died


def test_a_finished_file_that_is_not_audio_is_an_error_not_a_wait(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("hello")
    assert files.try_load(junk) is None
    with pytest.raises(AudioError) as err:
        files.try_load(_age(junk, 1.0))
    assert err.value.code == "not_audio"


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
