"""The browse app's data side without a browser: names → tempo/key, the map's projection, results Parquet input."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_heads import write_loops, write_noise

from loopbridge.browse.catalog import TakeScorer, build, load_results, training_library
from loopbridge.browse.projection import Projection, nearest
from loopbridge.browse.stats import library_stats, parse_name
from loopbridge.checks.take import tempo_from_name
from loopbridge.cli import main
from loopbridge.errors import LoopbridgeError
from loopbridge.music.context import key_from_name
from loopbridge.pipeline import Scorer

NAMES = [
    ("bass_120bpm_Am_03.wav", 120.0, "A minor"),
    ("gtr 95 F#min.wav", None, "F# minor"),  # a bare number is not read as a tempo
    ("Keys - Bb - 87.5 BPM.wav", 87.5, None),  # "Bb" alone is too weak to be a key
    ("Pad Ebm 100 BPM.wav", 100.0, "D# minor"),  # spelled as music.context.Key spells it
    ("Lead C_major 128-bpm.wav", 128.0, "C major"),
    ("loops/drums_140bpm/take_07.wav", 140.0, None),  # from the folder's name
    ("Keys Gm 87.5 BPM/take_07.wav", 87.5, "G minor"),  # the folder's whole name, dot and all
    ("take_07.wav", None, None),
    ("take 2023 01.wav", None, None),  # a year is not a tempo
    ("loop_10bpm.wav", None, None),  # outside the tempi the checks accept
]


@pytest.mark.parametrize(("path", "tempo", "key"), NAMES)
def test_tempo_and_key_from_names(path, tempo, key):
    info = parse_name(path)
    assert info.tempo_bpm == tempo
    assert info.key == key


@pytest.mark.parametrize(("path", "tempo", "key"), [n for n in NAMES if "/" not in n[0]])
def test_the_page_reads_a_name_as_the_checks_do(path, tempo, key):
    """The statistics show the tempo and key the checks will judge the take in."""
    info = parse_name(path)
    named_key = key_from_name(path)
    assert (info.tempo_bpm, info.key) == (tempo_from_name(path), None if named_key is None else str(named_key))


def test_library_stats_per_folder():
    paths = ["a/x_120bpm_Am.wav", "a/y_120bpm_C.wav", "a/z.wav", "b/w_90bpm.wav"]
    rows = library_stats(paths, np.array([2.0, 4.0, np.nan, 1.0]))
    assert [r["folder"] for r in rows] == ["a", "b"]
    a = rows[0]
    assert (a["count"], a["total_s"], a["mean_s"], a["min_s"], a["max_s"]) == (3, 6.0, 3.0, 2.0, 4.0)
    assert a["tempi"] == [120.0, 120.0]
    assert a["tempo_unknown"] == 1
    assert a["keys"] == {"A minor": 1}  # a bare "C" is not a key
    assert a["key_unknown"] == 2
    assert rows[1]["tempi"] == [90.0]


def test_pca_map_keeps_the_main_spread_and_places_new_points_with_the_same_axes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 8)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    proj = Projection(X)
    Y = proj.transform(X)
    assert np.var(Y[:, 0]) == pytest.approx(np.var(X[:, 0]), rel=0.1)
    assert np.var(Y[:, 1]) == pytest.approx(np.var(X[:, 1]), rel=0.2)
    np.testing.assert_allclose(proj.transform(X[:3]), Y[:3])
    assert nearest(X[5] + 1e-3, X, k=2)[0][0] == 5
    assert Projection(X[:1]).transform(X[:1]).shape == (1, 2)


def test_umap_map_needs_umap_learn_and_says_so():
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(LoopbridgeError, match="umap-learn"):
            Projection(np.zeros((5, 3)), "umap")
    else:
        assert Projection(np.random.default_rng(0).standard_normal((30, 4)), "umap").transform(
            np.zeros((1, 4))
        ).shape == (1, 2)


def test_scored_takes_keep_their_embeddings_and_parquet_results_load_the_same(tmp_path, lb_home):
    write_loops(tmp_path / "lib", 8)
    write_loops(tmp_path / "takes", 2, seed=400)
    write_noise(tmp_path / "takes", 1)
    fit = ["fit", str(tmp_path / "lib"), "--name", "m", "--encoder", "mel-stats", "--heads", "knn,pca", "--no-progress"]
    assert main(fit) == 0
    scorer = TakeScorer(Scorer("m"))
    takes, vectors, failures = scorer.score([tmp_path / "takes"])
    assert not failures
    assert vectors.shape == (3, scorer.scorer.bundle.dim)
    # each kept row is that take's embedding: the heads give the same scores again
    again = scorer.scorer.bundle.scores(vectors)
    for i, t in enumerate(takes):
        assert again["knn"][i] == pytest.approx(t.head_scores["knn"], rel=1e-5)
    library, roots = training_library(scorer.scorer)
    assert len(library) == 8
    assert roots == [tmp_path / "lib"]
    cat = build(scorer, takes, vectors, library)
    assert cat.take_xy.shape == (3, 2)
    fresh = Scorer("m").bundle
    fresh.set_quantile(0.6)
    assert cat.set_sensitivity(0.6) == fresh.thresholds  # what `score --quantile 0.6` uses

    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    from loopbridge.scale.output import score_row, score_schema

    schema = score_schema(scorer.scorer.bundle.heads, {"model": "m"})
    pq.write_table(pa.Table.from_pylist([score_row(t, "h") for t in takes], schema=schema), tmp_path / "r.parquet")
    loaded, loaded_vectors = load_results(scorer.scorer, tmp_path / "r.parquet")
    assert [t.path for t in loaded] == [t.path for t in takes]
    assert [t.flag for t in loaded] == [t.flag for t in takes]
    assert [t.reasons for t in loaded] == [t.reasons for t in takes]
    np.testing.assert_allclose(loaded_vectors, vectors, rtol=1e-5)


def test_browse_refuses_bad_usage_without_a_traceback(tmp_path, lb_home, capsys):
    write_loops(tmp_path / "lib", 4)
    assert (
        main(["fit", str(tmp_path / "lib"), "--name", "m", "--encoder", "mel-stats", "--heads", "pca", "--no-progress"])
        == 0
    )
    capsys.readouterr()
    assert main(["browse", "--model", "m", "--no-open"]) == 2
    assert "give either FILE_OR_DIR" in capsys.readouterr().err
