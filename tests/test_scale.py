"""`score`/`embed --engine ray` on a real Ray cluster started here (127.0.0.1, 2 CPUs, 200 MB object store):
results equal to the single-process commands row for row, resume after SIGKILL and Ctrl-C, bad files as rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from helpers_heads import TINY_FIT_ARGS, write_loops, write_noise
from helpers_scale import BAD_FILES, LOOPBRIDGE, NAMED, RAY_ENV, ray_head, write_library

from loopbridge import audio
from loopbridge.context import TakeContext
from loopbridge.encoders import Encoder
from loopbridge.pipeline import Scorer
from loopbridge.results import TakeResult

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("ray")

pytestmark = pytest.mark.ray
N_FILES = 200


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> str:
    with ray_head(tmp_path_factory.mktemp("ray")) as address:
        yield address


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, **RAY_ENV, "LOOPBRIDGE_HOME": str(home)}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("library")
    assert len(write_library(root, N_FILES)) == N_FILES
    return root


@pytest.fixture(scope="module")
def model(env, tmp_path_factory) -> str:
    train = tmp_path_factory.mktemp("train")
    write_loops(train, 16)
    lb(env, "fit", str(train), "--name", "m", "--encoder", "mel-stats", *TINY_FIT_ARGS)
    return "m"


def lb(env: dict[str, str], *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([*LOOPBRIDGE, *argv], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def rows(path: Path) -> dict[str, dict]:
    table = pq.read_table(path)
    out = {r["path"]: r for r in table.to_pylist()}
    assert len(out) == table.num_rows, "a path appears twice"
    return out


@pytest.fixture(scope="module")
def single(env, library, model) -> dict[str, dict]:
    """The single-process reference: `loopbridge score --json`."""
    return {r["file"]: r for r in json.loads(lb(env, "score", str(library), "--model", model, "--json").stdout)}


def scorer_results(
    env: dict[str, str], model: str, paths: list[Path], context: TakeContext | None = None
) -> dict[str, TakeResult]:
    """The single-process path in this process (`score` runs `Scorer.score_files`): what `--json` leaves out,
    the musical context each take was judged against and its standing, comes from here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPBRIDGE_HOME", env["LOOPBRIDGE_HOME"])
        results, _ = Scorer(model).score_files(paths, contexts=None if context is None else [context] * len(paths))
    return {r.path: r for r in results}


@pytest.fixture(scope="module")
def judged(env, library, model) -> dict[str, TakeResult]:
    return scorer_results(env, model, [library])


@pytest.fixture(scope="module")
def full_run(env, library, model, cluster, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("full") / "scores.parquet"
    done = lb(env, "score", str(library), "--model", model, "--engine", "ray", "--address", cluster, "--out", str(out))
    return out, done.stdout


def assert_same_as_single(
    got: dict[str, dict], single: dict[str, dict], judged: dict[str, TakeResult], library: Path
) -> None:
    """`single`: `score --json`'s rows; `judged`: the same path's TakeResults (musical context, standing)."""
    failed = {p for p, r in got.items() if r["error_code"]}
    assert failed == {str(library / b) for b in BAD_FILES}
    assert set(got) - failed == set(single) == set(judged)
    for path, ref in single.items():
        r = got[path]
        assert r["content_hash"]
        assert r["error_code"] is None
        assert r["duration_s"] == pytest.approx(ref["duration_s"], abs=1e-9)
        for head, s in ref["head_scores"].items():
            assert r[f"score_{head}"] == pytest.approx(s, rel=1e-5, abs=1e-6), (path, head)
        assert (r["head"], r["threshold"]) == (ref["head"], pytest.approx(ref["threshold"]))
        assert (r["flag"], r["flagged_by"], r["silent"]) == (ref["flag"], ref["flagged_by"], ref["silent"]), path
        assert r["reasons"] == ref["reasons"], path
        assert r["context"] == judged[path].context, path
        assert r["standing"] == (asdict(s) if (s := judged[path].standing) else None), path
    named = {str(library / n) for n in NAMED}
    assert all(got[p]["context"]["bpm_from"] == got[p]["context"]["key_from"] == "name" for p in named)
    assert {got[p]["context"]["bpm"] for p in named} == {120.0, 160.0}
    assert any("timing" in got[p]["flagged_by"] for p in named), "a 160 BPM loop named 120bpm plays off the grid"
    assert all(r["context"] is None for p, r in got.items() if p not in named), "nothing musical known: no context"


def test_score_on_the_cluster_equals_single_process_row_for_row(full_run, single, judged, library):
    out, stdout = full_run
    got = rows(out)
    assert len(got) == N_FILES
    assert_same_as_single(got, single, judged, library)
    assert sum(r["flag"] for r in single.values()) > 0, "the noise files should be flagged"
    codes = {Path(p).name: r["error_code"] for p, r in got.items() if r["error_code"]}
    assert codes == {
        "not_audio.wav": "not_audio",
        "empty.wav": "empty",
        "header_only.wav": "empty",
        "nan.wav": "non_finite",
    }
    assert all(r["error_message"] for p, r in got.items() if r["error_code"])
    flagged = sum(r["flag"] for r in single.values())
    assert f"{N_FILES - 4} scored, {flagged} flagged, 4 failed, 0 already in" in stdout
    assert not out.with_name(out.name + ".parts").exists(), "parts are merged away"


def test_rerun_scores_only_new_or_changed_files(full_run, env, library, model, cluster, tmp_path):
    out = tmp_path / "again.parquet"
    out.write_bytes(full_run[0].read_bytes())
    new = write_loops(library / "new", 2, seed=7000)
    changed = library / "loops" / "loop_00.wav"
    original = changed.read_bytes()
    try:
        before = rows(out)[str(changed)]
        changed.write_bytes(write_loops(tmp_path / "other", 1, seed=9000)[0].read_bytes())
        done = lb(
            env, "score", str(library), "--model", model, "--engine", "ray", "--address", cluster, "--out", str(out)
        )
        assert "3 scored, " in done.stdout, done.stdout
        assert f"{N_FILES - 1} already in" in done.stdout, done.stdout
        after = rows(out)
        assert len(after) == N_FILES + 2
        assert {str(p) for p in new} <= set(after)
        assert after[str(changed)]["content_hash"] != before["content_hash"]
    finally:
        changed.write_bytes(original)  # the other tests compare against the library as it was
        for p in new:
            p.unlink()
        (library / "new").rmdir()


def _interrupt(cmd: list[str], env: dict[str, str], parts: Path, sig: int) -> int:
    """Start the job, wait until it has written two batches of its own, then send `sig` to it."""
    before = set(parts.glob("part-*.parquet"))
    job = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(set(parts.glob("part-*.parquet")) - before) < 2:
        assert job.poll() is None, f"job ended before it could be interrupted: {job.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    job.send_signal(sig)
    job.communicate(timeout=120)
    return job.returncode


def test_the_command_lines_context_reaches_the_checks_and_the_decode(env, model, cluster, tmp_path):
    """--bpm/--key/--start/--end on the cluster give what single-process `score` gives with them, row for row."""
    files = [*write_loops(tmp_path / "takes", 4, seed=4000), *write_noise(tmp_path / "takes", 1)]
    ctx = ["--bpm", "120", "--key", "A minor", "--start", "0.25", "--end", "1.25"]
    base = ["score", str(tmp_path / "takes"), "--model", model]
    single = {r["file"]: r for r in json.loads(lb(env, *base, *ctx, "--json").stdout)}
    context = TakeContext(bpm=120, key="A minor", start_s=0.25, end_s=1.25, source="cli")
    judged = scorer_results(env, model, [tmp_path / "takes"], context)
    plain = {r["file"]: r for r in json.loads(lb(env, *base, "--json").stdout)}
    out = tmp_path / "ctx.parquet"
    lb(env, *base, *ctx, "--engine", "ray", "--address", cluster, "--out", str(out), "--batch-size", "2")
    got = rows(out)
    assert set(got) == set(single) == {str(f) for f in files}
    for path, ref in single.items():
        r = got[path]
        assert r["error_code"] is None, r["error_message"]
        assert r["region"] == ref["region"] == [0.25, 1.25]
        assert r["duration_s"] == pytest.approx(ref["duration_s"], abs=1e-9) == 1.0
        for head, s in ref["head_scores"].items():
            assert r[f"score_{head}"] == pytest.approx(s, rel=1e-5, abs=1e-6), (path, head)
        assert (r["flag"], r["flagged_by"], r["silent"]) == (ref["flag"], ref["flagged_by"], ref["silent"]), path
        assert r["reasons"] == ref["reasons"], path
        assert r["context"] == judged[path].context, path
        assert (r["context"]["bpm"], r["context"]["bpm_from"], r["context"]["key"]) == (120.0, "cli", "A minor")
    assert any(single[p]["reasons"] != plain[p]["reasons"] for p in single), "the context should change the checks"
    # another context is another job: its rows must not land in this --out
    again = subprocess.run(
        [*LOOPBRIDGE, *base, "--bpm", "90", "--engine", "ray", "--address", cluster, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 2, again.stderr[-2000:]
    assert "holds results of another job" in again.stderr


def test_with_gpus_cpu_tasks_feed_encoder_actors_and_the_rows_stay_the_same(env, model, tmp_path_factory):
    """A cluster with GPUs gets the split pipeline (decode and checks in CPU tasks, encoder actors with a GPU
    each). The GPU here is declared to Ray's scheduler only, so the sessions run on the CPU: what is checked is
    the pipeline's shape and that its rows, musical context included, are still the single-process ones."""
    takes = tmp_path_factory.mktemp("gpu-takes")
    write_library(takes, 14)
    single = {r["file"]: r for r in json.loads(lb(env, "score", str(takes), "--model", model, "--json").stdout)}
    judged = scorer_results(env, model, [takes])
    out = takes.parent / "gpu.parquet"
    with ray_head(tmp_path_factory.mktemp("ray-gpu"), num_cpus=2, num_gpus=1) as address:
        argv = ["score", str(takes), "--model", model, "--engine", "ray", "--address", address, "--out", str(out)]
        done = lb(env, *argv, "--batch-size", "4")
    assert "1 encoder actor(s) on the GPUs" in done.stderr, done.stderr[-2000:]
    got = rows(out)
    assert len(got) == 14
    assert_same_as_single(got, single, judged, takes)


def test_a_killed_job_resumes_and_loses_only_batches_in_flight(
    full_run, single, judged, env, library, model, cluster, tmp_path
):
    out = tmp_path / "scores.parquet"
    parts = out.with_name(out.name + ".parts")
    # small batches (blocks of up to 8), so the job is still running when the first parts appear
    cmd = [*LOOPBRIDGE, "score", str(library), "--model", model, "--engine", "ray", "--address", cluster]
    cmd += ["--out", str(out), "--batch-size", "2"]

    assert _interrupt(cmd, env, parts, signal.SIGKILL) == -signal.SIGKILL
    assert not out.exists(), "a SIGKILL leaves the part files, unmerged"
    kept = sum(pq.read_table(p).num_rows for p in parts.glob("part-*.parquet"))
    assert 0 < kept < N_FILES

    assert _interrupt(cmd, env, parts, signal.SIGINT) == 130
    assert out.exists(), "Ctrl-C merges what was written"
    assert not parts.exists()
    after_int = len(rows(out))
    assert kept <= after_int < N_FILES

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{after_int} already in" in done.stdout, done.stdout
    got = rows(out)
    assert len(got) == N_FILES
    assert_same_as_single(got, single, judged, library)


def test_embed_on_the_cluster_then_fit_on_a_sample_of_the_parquet(env, library, cluster, tmp_path, lb_home):
    out = tmp_path / "emb.parquet"
    lb(env, "embed", str(library), "--encoder", "mel-stats", "--engine", "ray", "--address", cluster, "--out", str(out))
    got = rows(out)
    assert sum(1 for r in got.values() if r["error_code"]) == 4
    encoder = Encoder.open("mel-stats")  # the single-process reference, on a few of the files
    some = sorted(p for p, r in got.items() if not r["error_code"])[::20]
    ref = encoder.embed_clips([audio.load(p) for p in some])
    for path, vec in zip(some, ref, strict=True):
        np.testing.assert_allclose(np.array(got[path]["embedding"]), vec, rtol=1e-5, atol=1e-6)

    fit = [
        "fit",
        "--embeddings",
        str(out),
        "--sample",
        "50",
        "--seed",
        "3",
        "--heads",
        "knn,mahalanobis",
        "--no-progress",
    ]
    a = lb(env, *fit, "--name", "a")
    lb(env, *fit, "--name", "b")
    models = Path(env["LOOPBRIDGE_HOME"]) / "data" / "models"
    manifests = [json.loads((models / n / "manifest.json").read_text()) for n in ("a", "b")]
    assert manifests[0]["training"]["files"] == 50, a.stdout
    assert manifests[0]["heads"]["knn"]["threshold"] == manifests[1]["heads"]["knn"]["threshold"]


def test_another_job_cannot_write_into_the_same_out(full_run, env, library, model, cluster, tmp_path):
    # other thresholds would leave rows flagged by two different rules in one file
    cmd = [*LOOPBRIDGE, "score", str(library), "--model", model, "--quantile", "0.5", "--engine", "ray"]
    cmd += ["--address", cluster]
    done = subprocess.run([*cmd, "--out", str(full_run[0])], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "holds results of another job" in done.stderr
    assert "choose another --out" in done.stderr
    not_ours = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"path": ["x"]}), not_ours)
    before = not_ours.read_bytes()
    done = subprocess.run([*cmd, "--out", str(not_ours)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "not a loopbridge results file" in done.stderr
    assert not_ours.read_bytes() == before


def test_evaluate_reads_the_parquet_results_instead_of_scoring_again(full_run, env, library, model):
    labels = library / "labels.csv"
    rel = sorted(p.relative_to(library) for p in library.rglob("*.wav"))
    labels.write_text("file,label\n" + "".join(f"{p},{1 if p.parts[0] == 'noise' else 0}\n" for p in rel))
    try:
        direct = json.loads(lb(env, "evaluate", "--model", model, "--labels", str(labels), "--json").stdout)
        argv = ["evaluate", "--model", model, "--labels", str(labels), "--json", "--results", str(full_run[0])]
        read = json.loads(lb(env, *argv).stdout)
    finally:
        labels.unlink()
    assert read["metrics"] == direct["metrics"]
    assert sorted(Path(s["file"]).name for s in read["skipped"]) == sorted(
        Path(s["file"]).name for s in direct["skipped"]
    )
    assert len(direct["skipped"]) == 4
