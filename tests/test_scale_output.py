"""The scale-out job's Parquet results and file lists, without a cluster: part files, resume, merge, refusal."""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from loopbridge.embedding import load_embeddings  # noqa: E402
from loopbridge.errors import LoopbridgeError  # noqa: E402
from loopbridge.results import Finding, Standing, TakeResult  # noqa: E402
from loopbridge.scale import output  # noqa: E402
from loopbridge.scale.listing import list_files  # noqa: E402

JOB = {"kind": "score", "model": "m", "encoder": "mel-stats:abc", "thresholds": {"knn": 1.0}, "checks": True}


def result(path: str, score: float, reasons: list[Finding] | None = None) -> TakeResult:
    return TakeResult(
        path, "m", 2.0, "knn", score, 1.0, score > 1.0, {"knn": score}, {"knn": 1.0}, reasons or [], False
    )


def part(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=output.score_schema(["knn"], JOB))


def test_parts_merge_into_one_file_newest_row_per_path_winning(tmp_path):
    out = tmp_path / "r.parquet"
    store = output.ResultStore(out, output.score_schema(["knn"], JOB))
    click = Finding("click", 0.7, 0.5, 0.001, "click at 0.50 s")
    store.write_part(
        part([output.score_row(result("a.wav", 0.5), "h1"), output.score_row(result("b.wav", 2.0, [click]), "h2")])
    )
    store.write_part(part([output.error_row("c.wav", "", "missing", "c.wav: file not found")]))
    assert store.done() == {("a.wav", "h1"), ("b.wav", "h2")}, "a row without a hash is retried"
    assert store.merge() == 3
    assert not store.parts.exists()

    again = output.ResultStore(out, output.score_schema(["knn"], JOB))
    again.write_part(
        part([output.score_row(result("a.wav", 3.0), "h1b"), output.score_row(result("c.wav", 0.1), "h3")])
    )
    (again.parts / "part-x.parquet.tmp").write_bytes(b"cut short by a kill")
    assert again.merge() == 3
    rows = {r["path"]: r for r in pq.read_table(out).to_pylist()}
    assert rows["a.wav"]["content_hash"] == "h1b"
    assert (rows["a.wav"]["flag"], rows["a.wav"]["flagged_by"]) == (True, ["knn"])
    assert rows["b.wav"]["reasons"] == [click.__dict__]
    assert rows["b.wav"]["flagged_by"] == ["knn", "click"]
    assert rows["c.wav"]["error_code"] is None
    assert not again.parts.exists()


def test_the_musical_context_and_standing_come_back_as_the_scorer_gave_them(tmp_path):
    """`evaluate --results` and anyone reading the Parquet see what the take was judged against."""
    out = tmp_path / "r.parquet"
    store = output.ResultStore(out, output.score_schema(["knn"], JOB))
    late = Finding("timing", 0.6, 0.25, 0.05, "a note 40 ms late")
    judged = result("bass_120bpm_Em.wav", 0.5, [late])
    judged.context = {"bpm": 120.0, "bpm_from": "name", "key": "E minor", "key_from": "name"}
    judged.context |= {"meter": "4/4", "meter_from": "default"}
    judged.standing = Standing(2, 3, 0.4, "timing", 0.25, "a note 40 ms late")
    store.write_part(part([output.score_row(judged, "h1"), output.score_row(result("plain.wav", 0.2), "h2")]))
    store.merge()
    back, failures = output.read_results(out, "m", {"knn": 1.0})
    got = {r.path: r for r in back}
    assert not failures
    assert got["bass_120bpm_Em.wav"].context == judged.context
    assert got["bass_120bpm_Em.wav"].standing == judged.standing
    assert got["bass_120bpm_Em.wav"].flagged_by == ["timing"]
    assert (got["plain.wav"].context, got["plain.wav"].standing) == (None, None)


def test_many_parts_are_compacted_as_they_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "COMPACT_EVERY", 4)
    store = output.ResultStore(tmp_path / "r.parquet", output.score_schema(["knn"], JOB))
    for i in range(10):
        store.write_part(part([output.score_row(result(f"{i}.wav", 0.1 * i), f"h{i}")]))
    assert len(list(store.parts.glob("part-*.parquet"))) == 4  # two compacted parts + two single ones
    assert len(store.done()) == 10
    assert store.merge() == 10


def test_another_job_or_a_foreign_file_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "r.parquet"
    store = output.ResultStore(out, output.score_schema(["knn"], JOB))
    store.write_part(part([output.score_row(result("a.wav", 0.5), "h1")]))
    store.merge()
    other = {**JOB, "thresholds": {"knn": 2.0}}
    with pytest.raises(LoopbridgeError, match="holds results of another job"):
        output.ResultStore(out, output.score_schema(["knn"], other))
    foreign = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"path": ["x"]}), foreign)
    with pytest.raises(LoopbridgeError, match="not a loopbridge results file"):
        output.ResultStore(foreign, output.score_schema(["knn"], JOB))
    text = tmp_path / "notes.parquet"
    text.write_text("hello")
    with pytest.raises(LoopbridgeError, match="not a Parquet file"):
        output.ResultStore(text, output.score_schema(["knn"], JOB))
    assert text.read_text() == "hello"


def test_embeddings_parquet_loads_for_fit_without_the_failed_rows(tmp_path):
    schema = output.embed_schema(3, {"kind": "embed", "encoder": "mel-stats:abc", "encoder_name": "mel-stats"})
    store = output.ResultStore(tmp_path / "e.parquet", schema)
    vecs = np.arange(9, dtype=np.float32).reshape(3, 3)
    rows = [output.embed_row(f"{i}.wav", f"h{i}", 1.0 + i, v) for i, v in enumerate(vecs)]
    store.write_part(pa.Table.from_pylist([*rows, output.error_row("bad.wav", "hb", "not_audio", "no")], schema=schema))
    store.merge()
    emb = load_embeddings(tmp_path / "e.parquet")
    assert emb.files == ["0.wav", "1.wav", "2.wav"]
    np.testing.assert_array_equal(emb.vectors, vecs)
    assert (emb.encoder_id, emb.encoder_name) == ("mel-stats:abc", "mel-stats")
    np.testing.assert_array_equal(emb.durations, [1.0, 2.0, 3.0])
    s1, s2 = emb.sample(2, seed=5), emb.sample(2, seed=5)
    assert s1.files == s2.files
    assert len(s1) == 2
    scores = output.ResultStore(tmp_path / "s.parquet", output.score_schema(["knn"], JOB))
    scores.write_part(part([output.score_row(result("a.wav", 0.5), "h1")]))
    scores.merge()
    with pytest.raises(LoopbridgeError, match="not an embeddings Parquet"):
        load_embeddings(tmp_path / "s.parquet")


def test_files_come_from_folders_text_lists_and_parquet_lists(tmp_path):
    (tmp_path / "lib" / "sub").mkdir(parents=True)
    for name in ("lib/a.wav", "lib/sub/b.flac", "lib/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text(f"# my loops\nlib/a.wav\n\n{tmp_path / 'elsewhere.wav'}\n")
    pq.write_table(pa.table({"path": [str(tmp_path / "lib/sub/b.flac"), "lib/c.wav"]}), tmp_path / "list.parquet")
    assert list_files([tmp_path / "lib"]) == [str(tmp_path / "lib/a.wav"), str(tmp_path / "lib/sub/b.flac")]
    assert list_files([tmp_path / "list.txt", tmp_path / "list.parquet", tmp_path / "lib"]) == [
        str(tmp_path / "lib/a.wav"),
        str(tmp_path / "elsewhere.wav"),
        str(tmp_path / "lib/sub/b.flac"),
        str(tmp_path / "lib/c.wav"),
    ]
    pq.write_table(pa.table({"file": ["x"]}), tmp_path / "nopath.parquet")
    with pytest.raises(LoopbridgeError, match="'path' column"):
        list_files([tmp_path / "nopath.parquet"])
