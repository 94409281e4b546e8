"""Encoders and `loopbridge embed`: files in, one embedding per clip out, bad files listed, cache reused."""

import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import tone, write_audio

from loopbridge import encoders
from loopbridge.cache import EmbeddingCache
from loopbridge.cli import main
from loopbridge.embedding import embed_files, load_embeddings
from loopbridge.errors import EncoderError, LoopbridgeError


@pytest.fixture
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    for i, seconds in enumerate((1.0, 4.0, 12.0)):
        write_audio(lib / f"loop{i}.wav", tone(seconds, sr=44_100, freq=80 + 30 * i, seed=i), 44_100)
    (lib / "broken.wav").write_bytes(b"RIFF....garbage")
    return lib


def test_default_encoder_falls_back_to_mel_stats_and_says_so(lb_home: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, "loopbridge"):
        enc = encoders.Encoder.open()
    assert enc.name == "mel-stats"
    assert enc.dim == encoders.PRESETS["mel-stats"].embedding_dim
    assert "mel-stats" in caplog.text
    assert "encoder fetch" in caplog.text
    assert enc.provider == "CPUExecutionProvider"


def test_missing_clap_encoder_is_an_error_with_the_fix(lb_home: Path) -> None:
    with pytest.raises(EncoderError, match="loopbridge encoder fetch --preset clap-htsat-fused"):
        encoders.Encoder.open("clap-htsat-fused")
    with pytest.raises(EncoderError, match="unknown encoder"):
        encoders.Encoder.open("wav2vec")


def test_embed_files_keeps_order_lists_failures_and_uses_cache(lb_home: Path, library: Path) -> None:
    enc = encoders.Encoder.open("mel-stats")
    files = sorted(library.iterdir())
    cache = EmbeddingCache(enc.id)
    emb, failures = embed_files(files, enc, batch_size=2, progress=False, cache=cache)
    assert [Path(f).name for f in emb.files] == ["loop0.wav", "loop1.wav", "loop2.wav"]
    assert [Path(f.path).name for f in failures] == ["broken.wav"]
    assert failures[0].error.code == "not_audio"
    assert emb.vectors.shape == (3, enc.dim)
    assert np.isfinite(emb.vectors).all()
    assert np.allclose(emb.durations, [1.0, 4.0, 12.0], atol=1e-3)
    assert len({tuple(v) for v in emb.vectors.round(4)}) == 3  # distinct clips, distinct embeddings

    calls = []
    original = enc.embed_inputs
    enc.embed_inputs = lambda inputs: calls.append(1) or original(inputs)  # count real encoder runs
    again, _ = embed_files(files, enc, progress=False, cache=EmbeddingCache(enc.id))
    assert not calls
    assert np.array_equal(again.vectors, emb.vectors)
    assert np.allclose(again.durations, emb.durations)


def test_embed_command_writes_npz_and_never_overwrites(lb_home: Path, library: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "emb.npz"
    assert main(["embed", str(library), "--out", str(out), "--encoder", "mel-stats"]) == 0
    emb = load_embeddings(out)
    assert len(emb) == 3
    assert emb.encoder_name == "mel-stats"
    assert emb.encoder_id.startswith("mel-stats:")
    assert "1 skipped" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["embed", str(library), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_embed_command_with_nothing_usable_is_a_clear_error(lb_home: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["embed", str(tmp_path / "empty"), "--out", str(tmp_path / "e.npz")]) == 2
    assert "no audio files found" in capsys.readouterr().err


def test_load_embeddings_accepts_npy_and_rejects_nan(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((4, 8), np.float32))
    assert load_embeddings(tmp_path / "x.npy").vectors.shape == (4, 8)
    bad = np.ones((4, 8), np.float32)
    bad[2, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(LoopbridgeError, match="NaN"):
        load_embeddings(tmp_path / "bad.npy")
