"""`loopbridge fit` and `loopbridge score` end to end on real audio files through the mel-stats ONNX encoder."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tone, write_audio
from helpers_heads import TINY_FIT_ARGS, normal_embeddings, tiny_fit_options, write_loops, write_noise

from loopbridge import heads_registry
from loopbridge.bundle import Bundle, EncoderRef
from loopbridge.cli import main
from loopbridge.encoders import Encoder
from loopbridge.errors import ModelError
from loopbridge.export.fit import fit_heads, save_bundle
from loopbridge.pipeline import Scorer

N_LOOPS = 24


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lib")
    write_loops(root / "loops", N_LOOPS)
    write_loops(root / "takes", 4, seed=500)
    write_noise(root / "takes", 3)
    return root


@pytest.fixture(scope="module")
def fitted_home(library: Path, tmp_path_factory) -> Path:
    """One model fitted once for the tests that only read it."""
    home = tmp_path_factory.mktemp("fitted_home")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("LOOPBRIDGE_HOME", str(home))
        assert main(["fit", str(library / "loops"), "--name", "mylib", "--encoder", "mel-stats", *TINY_FIT_ARGS]) == 0
    (home / "fit-output.txt").write_text(out.getvalue())
    return home


@pytest.fixture
def fitted(fitted_home: Path, monkeypatch, capsys) -> Path:
    monkeypatch.setenv("LOOPBRIDGE_HOME", str(fitted_home))
    capsys.readouterr()
    return fitted_home / "data" / "models" / "mylib"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_writes_a_bundle_with_every_head_and_a_summary(fitted):
    out = (fitted.parents[2] / "fit-output.txt").read_text()
    for head in heads_registry.HEADS:
        assert any(line.startswith(head) and "threshold" in line for line in out.splitlines()), out
    bundle = Bundle.load("mylib")
    assert bundle.primary == "knn"
    assert bundle.encoder.preset == "mel-stats"
    assert bundle.manifest.training["files"] == N_LOOPS
    assert bundle.encoder.id == Encoder.open("mel-stats").id
    assert bundle.checks["n"] == N_LOOPS  # technical checks calibrated on the same library


def test_score_ranks_gross_defects_first_and_flags_them(library, fitted, capsys):
    code, out, err = run_cli(capsys, "score", str(library / "takes"), "--model", "mylib", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 7
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    noise = [r for r in rows if "noise_" in r["file"]]
    loops = [r for r in rows if "loop_" in r["file"]]
    for head in ("knn", "pca", "mahalanobis"):  # the tiny Deep SVDD of this test is too rough to rank reliably
        assert min(r["head_scores"][head] for r in noise) > max(r["head_scores"][head] for r in loops), head
        assert all(r["head_scores"][head] > r["head_thresholds"][head] for r in noise)
    assert all(r["flag"] for r in noise)
    assert all(not r["reasons"] for r in loops)  # calibrated checks raise no false alarm on clean loops
    assert any(f["kind"] == "noise" for f in noise[0]["reasons"])  # white noise at -6 dBFS is heard as hiss
    assert set(rows[0]["head_scores"]) == set(heads_registry.HEADS)
    assert rows[0]["duration_s"] == pytest.approx(1.5)


def test_score_table_and_csv(library, fitted, capsys):
    code, out, _ = run_cli(capsys, "score", str(library / "takes"), "--model", "mylib")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["file", "dur", "s"]
    assert "reasons" in lines[0]
    noise_rows = [line for line in lines if "noise_" in line]
    assert len(noise_rows) == 3
    assert all(" OFF " in line and "hiss" in line for line in noise_rows)
    assert "flagged by model 'mylib'" in out
    code, out, _ = run_cli(capsys, "score", str(library / "takes"), "--model", "mylib", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    assert {
        "file",
        "duration_s",
        "score",
        "threshold",
        "flag",
        "flagged_by",
        "knn_score",
        "reasons",
    } <= set(rows[0])
    assert {r["flag"] for r in rows if "noise_" in r["file"]} == {"1"}
    assert all("hiss" in r["reasons"] for r in rows if "noise_" in r["file"])


def test_score_table_says_a_silent_take_is_silent_once(fitted, capsys, tmp_path):
    """The silence check's reason says it; a take silent only once mixed down (its channels cancel) gets the note."""
    y = tone(2.0, amp=0.3)
    unarmed = write_audio(tmp_path / "unarmed.wav", np.zeros((96_000, 2), np.float32))
    cancels = write_audio(tmp_path / "cancels.wav", np.stack([y, -y], axis=1))
    code, out, err = run_cli(capsys, "score", str(unarmed), str(cancels), "--model", "mylib")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(str(tmp_path))}
    assert "nothing was recorded" in rows[str(unarmed)]
    assert rows[str(unarmed)].count("silent take") == 1, rows[str(unarmed)]
    assert rows[str(cancels)].count("silent take") == 1, rows[str(cancels)]


def test_score_never_imports_torch(library, fitted):
    code = (
        "import sys; from loopbridge.cli import main; "
        f"rc = main(['score', {str(library / 'takes')!r}, '--model', 'mylib', '--json']); "
        "assert rc == 0, rc; bad = [m for m in ('torch', 'sklearn', 'loopbridge.export') if m in sys.modules]; "
        "assert not bad, bad"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["file"].endswith(".wav")


def test_refit_embeds_only_new_files(library, lb_home, capsys, monkeypatch, tmp_path):
    calls: list[int] = []
    original = Encoder.embed_inputs
    monkeypatch.setattr(
        Encoder, "embed_inputs", lambda self, inputs: calls.append(len(inputs["mel_fusion"])) or original(self, inputs)
    )
    lib = tmp_path / "lib"
    write_loops(lib, 6)
    args = ["fit", str(lib), "--name", "c", "--encoder", "mel-stats", "--heads", "pca,knn", "--no-progress"]
    assert main(args) == 0
    assert sum(calls) == 6
    assert main([*args, "--force"]) == 0
    assert sum(calls) == 6
    write_loops(lib / "more", 2, seed=77)
    assert main([*args, "--force"]) == 0
    assert sum(calls) == 8
    assert Bundle.load("c").manifest.training["files"] == 8


def test_fit_and_score_from_saved_embeddings(library, lb_home, capsys, tmp_path):
    npz = tmp_path / "lib.npz"
    assert main(["embed", str(library / "loops"), "--out", str(npz), "--encoder", "mel-stats"]) == 0
    code, out, err = run_cli(
        capsys, "fit", "--embeddings", str(npz), "--name", "fromnpz", "--heads", "knn,pca", "--no-progress"
    )
    assert code == 0, err
    bundle = Bundle.load("fromnpz")
    assert bundle.encoder.preset == "mel-stats"
    assert bundle.primary == "knn"
    code, out, err = run_cli(capsys, "score", "--embeddings", str(npz), "--model", "fromnpz", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == N_LOOPS
    code, out, err = run_cli(capsys, "score", str(library / "takes"), "--model", "fromnpz", "--json")
    assert code == 0, err  # the .npz named its encoder, so audio can be scored too


def test_plain_npy_model_scores_embeddings_but_refuses_audio(library, lb_home, capsys, caplog, tmp_path):
    npy = tmp_path / "x.npy"
    np.save(npy, normal_embeddings(40))
    code, _, err = run_cli(
        capsys, "fit", "--embeddings", str(npy), "--name", "plain", "--heads", "mahalanobis", "--no-progress"
    )
    assert code == 0
    assert "only score embeddings" in caplog.text
    assert run_cli(capsys, "score", "--embeddings", str(npy), "--model", "plain")[0] == 0
    code, _, err = run_cli(capsys, "score", str(library / "takes"), "--model", "plain")
    assert code == 2
    assert "can only score embeddings" in err
    assert "Traceback" not in err


def test_scorer_refuses_an_encoder_the_model_was_not_fitted_with(lb_home):
    X = normal_embeddings(30)
    dets = fit_heads(X, tiny_fit_options(heads=("pca",)))
    mel = Encoder.open("mel-stats")
    clap = save_bundle(
        lb_home / "clap", "clap", dets, EncoderRef("clap-htsat-fused", None, "clap-htsat-fused:0123", X.shape[1]), {}
    )
    with pytest.raises(ModelError, match="fitted with encoder 'clap-htsat-fused', not 'mel-stats'"):
        Scorer(clap, encoder=mel)
    wrong_dim = save_bundle(lb_home / "dim", "dim", dets, EncoderRef("mel-stats", None, mel.id, X.shape[1]), {})
    with pytest.raises(ModelError, match=f"expects {X.shape[1]}-dimensional embeddings"):
        Scorer(wrong_dim, encoder=mel)
    dets_full = fit_heads(normal_embeddings(30, dim=mel.dim), tiny_fit_options(heads=("pca",)))
    other_file = save_bundle(
        lb_home / "hash", "hash", dets_full, EncoderRef("mel-stats", None, "mel-stats:ffff", mel.dim), {}
    )
    with pytest.raises(ModelError, match="different 'mel-stats' encoder file"):
        Scorer(other_file, encoder=mel)
    scorer = Scorer(other_file)
    with pytest.raises(ModelError, match="these embeddings come from encoder mel-stats:aaaa"):
        scorer.check_embedding_source("mel-stats:aaaa")


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        ("empty", ["fit", "{d}", "--name", "x", "--encoder", "mel-stats"], "no audio files found"),
        ("single", ["fit", "{d}", "--name", "x", "--encoder", "mel-stats"], "at least 3 loops"),
        (
            "unreadable",
            ["fit", "{d}", "--name", "x", "--encoder", "mel-stats"],
            "none of the 2 audio file(s) could be read",
        ),
        ("nan", ["fit", "--embeddings", "{d}/e.npy", "--name", "x"], "NaN"),
        ("dim", ["score", "--embeddings", "{d}/e.npy", "--model", "m"], "dimension 5, the model expects 16"),
        ("none", ["score", "--model", "m"], "give either FILE_OR_DIR"),
        ("none", ["fit", "--name", "x"], "give either AUDIO_DIR"),
        ("none", ["score", "{d}", "--model", "missing"], "no model 'missing'"),
        ("none", ["fit", "{d}", "--name", "x", "--heads", "svm"], "unknown head(s) svm"),
        ("none", ["fit", "{d}", "--name", "x", "--quantile", "95"], "--quantile must be between 0 and 1"),
        ("none", ["fit", "{d}", "--name", "x", "--hidden", "64,x"], "--hidden must be comma-separated integers"),
        (
            "none",
            ["fit", "{d}", "--name", "x", "--heads", "knn,pca", "--primary", "aewres"],
            "--primary aewres is not among --heads",
        ),
    ],
)
def test_bad_inputs_give_a_clear_error_not_a_traceback(setup, argv, message, lb_home, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    if setup == "single":
        write_loops(d, 1)
    if setup == "unreadable":
        (d / "a.wav").write_bytes(b"not audio")
        (d / "b.wav").write_bytes(b"")
    if setup == "nan":
        X = normal_embeddings(10)
        X[4, 0] = np.nan
        np.save(d / "e.npy", X)
    if setup == "dim":
        np.save(d / "e.npy", np.ones((3, 5), np.float32))
        save_bundle(
            lb_home / "data" / "models" / "m",
            "m",
            fit_heads(normal_embeddings(20), tiny_fit_options(heads=("knn",))),
            EncoderRef(None, None, None, 16),
            {},
        )
    code, _out, err = run_cli(capsys, *(a.format(d=d) for a in argv))
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_unreadable_files_are_skipped_and_listed(library, lb_home, capsys, caplog, tmp_path):
    lib = tmp_path / "lib"
    write_loops(lib, 5)
    (lib / "broken.wav").write_bytes(b"RIFF junk")
    (lib / "empty.flac").write_bytes(b"")
    code, out, _err = run_cli(
        capsys, "fit", str(lib), "--name", "s", "--encoder", "mel-stats", "--heads", "pca", "--no-progress"
    )
    assert code == 0
    assert "skipped" in caplog.text
    assert "broken.wav" in caplog.text
    assert "empty.flac" in caplog.text
    m = Bundle.load("s").manifest.training
    assert m["files"] == 5
    assert sorted(Path(p).name for p in m["skipped"]) == ["broken.wav", "empty.flac"]
    caplog.clear()
    code, out, _err = run_cli(capsys, "score", str(lib), "--model", "s", "--json")
    assert code == 0
    assert len(json.loads(out)) == 5
    assert "broken.wav" in caplog.text


def test_fit_refuses_to_overwrite_without_force(library, fitted, capsys):
    before = (fitted / "manifest.json").read_text()
    code, _, err = run_cli(
        capsys, "fit", str(library / "loops"), "--name", "mylib", "--encoder", "mel-stats", "--heads", "pca"
    )
    assert code == 2
    assert "already exists; use --force" in err
    assert (fitted / "manifest.json").read_text() == before


def test_seed_option_reproduces_a_fit(lb_home, capsys, tmp_path):
    npy = tmp_path / "x.npy"
    np.save(npy, normal_embeddings(40))
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        args = [
            "fit",
            "--embeddings",
            str(npy),
            "--name",
            name,
            "--heads",
            "aewres,iforest",
            "--seed",
            seed,
            *TINY_FIT_ARGS,
        ]
        assert main(args) == 0
    scores = {n: Bundle.load(n).scores(normal_embeddings(10, seed=5)) for n in "abc"}
    for head in ("aewres", "iforest"):
        np.testing.assert_array_equal(scores["a"][head], scores["b"][head])
        assert not np.allclose(scores["a"][head], scores["c"][head])


def test_threshold_basis_option_reproduces_the_papers_in_sample_thresholds(lb_home, capsys, tmp_path):
    npy = tmp_path / "x.npy"
    np.save(npy, normal_embeddings(40))
    for name, paper_args in (
        ("held", []),
        ("paper", ["--threshold-basis", "in-sample", "--primary", "aewres", "--quantile", "0.95"]),
    ):
        assert (
            main(
                ["fit", "--embeddings", str(npy), "--name", name, "--heads", "aewres,knn", *paper_args, *TINY_FIT_ARGS]
            )
            == 0
        )
    out = capsys.readouterr().out
    assert "q0.95 of 40 out-of-fold scores" in out
    assert "q0.95 of 32 in-sample scores" in out
    held, paper = Bundle.load("held"), Bundle.load("paper")
    assert held.threshold_basis == {"aewres": "out-of-fold", "knn": "leave-one-out"}
    assert paper.threshold_basis == {"aewres": "in-sample", "knn": "in-sample"}
    assert (held.primary, paper.primary) == ("knn", "aewres")  # the product's default; the paper's head on request
    for head in ("aewres", "knn"):
        np.testing.assert_array_equal(paper.training_scores[head], paper.in_sample_scores[head])
        assert paper.thresholds[head] == pytest.approx(np.quantile(paper.in_sample_scores[head], 0.95))
        assert held.thresholds[head] > paper.thresholds[head]  # held-out scores are higher: fewer false flags
