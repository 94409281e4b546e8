"""One false-flag budget: fit chooses the primary head's threshold and the checks' limits together on the library."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers_heads import TINY_FIT_ARGS, write_loops

from loopbridge import audio, checks
from loopbridge.bundle import Bundle
from loopbridge.cli import main
from loopbridge.export import budget
from loopbridge.export.fit import calibrate_checks, measure_checks

N = 40


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> list[Path]:
    return write_loops(tmp_path_factory.mktemp("budget_lib"), N, seed=7)


@pytest.fixture(scope="module")
def rows(library) -> list[dict[str, float] | None]:
    return measure_checks([str(p) for p in library], progress=False)


def test_the_combined_decision_flags_the_budget_of_the_library(rows):
    calibration = calibrate_checks(rows)
    scores = np.random.default_rng(0).gamma(2.0, size=N)
    chosen = budget.choose("knn", np.sort(scores), scores, rows, calibration, false_flags=0.1)
    _, excess = budget.check_excess(rows, budget.apply_limits(calibration, chosen))
    by_checks = (excess > 0).any(axis=1)
    by_head = scores > chosen.head_threshold
    assert chosen.pairing == "per-loop"
    assert (by_head | by_checks).sum() == math.floor(0.1 * N)  # exactly the budget, on the same loops
    assert chosen.combined == pytest.approx(0.1)
    assert by_checks.sum() <= math.floor(0.5 * 0.1 * N)  # the checks keep to their share
    assert chosen.head_quantile == pytest.approx(np.mean(scores <= chosen.head_threshold))


def test_checks_that_flag_too_much_of_the_library_are_relaxed_where_it_costs_least(rows, library):
    calibration = calibrate_checks(rows)
    dc = next(r for r, _ in checks.limits(calibration) if r.stat == "dc_offset_db")
    strict = {**calibration, "limits": {dc.key: -200.0}}  # every loop "has" DC: the checks alone flag all
    _, before = budget.check_excess(rows, strict)
    assert (before > 0).any(axis=1).all()
    chosen = budget.choose("knn", np.zeros(N), np.zeros(N), rows, strict, false_flags=0.1)
    assert list(chosen.relaxed) == [dc.key]
    assert chosen.relaxed[dc.key]["from"] == -200.0
    assert chosen.checks <= 0.05
    applied = budget.apply_limits(strict, chosen)
    assert dc.limit(applied) == chosen.relaxed[dc.key]["to"]
    flagged_dc = [any(f.kind == dc.kind for f in checks.run_checks(audio.read_native(p), applied)) for p in library]
    assert sum(flagged_dc) == round(chosen.checks * N)  # the runtime's checks read the chosen limit


def test_without_per_loop_scores_head_and_checks_are_taken_as_independent(rows):
    calibration = calibrate_checks(rows)
    scores = np.sort(np.random.default_rng(1).normal(size=200))
    chosen = budget.choose("aewres", scores, None, rows, calibration, false_flags=0.05)
    assert chosen.pairing == "independent"
    assert 1 - (1 - chosen.checks) * (1 - np.mean(scores > chosen.head_threshold)) == pytest.approx(0.05, abs=0.01)


def test_fit_records_the_budget_and_the_per_head_rule_stays_available(library, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOOPBRIDGE_HOME", str(tmp_path))
    folder = str(library[0].parent)
    common = ["--encoder", "mel-stats", "--heads", "knn,mahalanobis", *TINY_FIT_ARGS]
    assert main(["fit", folder, "--name", "budget", *common]) == 0
    out = capsys.readouterr().out
    assert "decision: knn OR any check flags 5.0% of 40 library loops" in out
    bundle = Bundle.load("budget")
    decision = json.loads((bundle.path / "manifest.json").read_text())["decision"]
    assert decision["rule"] == "budget"
    assert decision["false_flags"] == 0.05
    assert decision["split"]["combined"] == pytest.approx(math.floor(0.05 * N) / N)
    assert bundle.thresholds["knn"] == pytest.approx(decision["head_threshold"])
    assert bundle.quantiles["mahalanobis"] == 0.95  # heads outside the decision: at 1 - budget each

    assert main(["fit", folder, "--name", "paper", "--quantile", "0.95", *common]) == 0
    paper = json.loads((Bundle.load("paper").path / "manifest.json").read_text())
    assert paper["decision"] == {"rule": "per-head", "quantile": 0.95, "head": "knn"}
    assert "limits" not in paper["checks"]

    assert main(["fit", folder, "--name", "both", "--quantile", "0.9", "--false-flags", "0.1", *common]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["fit", folder, "--name", "bad", "--false-flags", "1.5", *common]) == 2
    assert "--false-flags must be between 0 and 1" in capsys.readouterr().err
