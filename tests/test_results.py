"""The one decision rule the CLI, the server and `evaluate` share: the deciding head past its threshold OR a reason."""

from __future__ import annotations

from loopbridge.results import Finding, TakeResult


def take(knn: float, pca: float, reasons: list[Finding] | None = None) -> TakeResult:
    thresholds = {"knn": 1.0, "pca": 10.0}
    return TakeResult(
        path="t.wav",
        model="m",
        duration_s=4.0,
        head="knn",
        score=knn,
        threshold=1.0,
        head_flag=knn > 1.0,
        head_scores={"knn": knn, "pca": pca},
        head_thresholds=thresholds,
        reasons=reasons or [],
    )


def test_the_primary_head_or_any_reason_flags():
    assert not take(0.5, 20.0).flag  # another head past its threshold does not decide
    assert take(1.5, 0.0).flag
    assert take(1.5, 0.0).flagged_by == ["knn"]
    clipped = take(0.5, 0.0, [Finding("clipping", 0.8, 1.0, 0.01, "clipped")])
    assert clipped.flag
    assert clipped.flagged_by == ["clipping"]


def test_another_head_can_decide_by_the_same_rule():
    assert take(0.5, 20.0).decision("pca")
    assert not take(1.5, 5.0).decision("pca")
    assert take(1.5, 5.0).decision("knn") == take(1.5, 5.0).flag
    assert take(0.5, 5.0, [Finding("dc_offset", 0.4, 0.0, 4.0, "dc")]).decision("pca")
