"""What scoring a take produces; shared by the CLI, the server and the device protocol."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """A reason: what a technical check found, where, and how bad (0–1)."""

    kind: str
    severity: float
    start_s: float
    duration_s: float
    message: str


@dataclass(frozen=True)
class Standing:
    """Where a take stands among its sibling takes (OSC `compare`): rank 1 is the tightest of them all."""

    rank: int
    of: int  # how many takes were compared: the take and its siblings
    score: float  # the comparison's score for this take (0 = plays what the others play)
    kind: str  # the kind of its first departure ("timing", "wrong_note", ...), "none" when it departs nowhere
    departs_s: float  # where it first departs, -1 when nowhere
    message: str  # "tightest so far", or its first departure in words


@dataclass
class TakeResult:
    """One take scored by one model bundle: the learned heads plus the technical checks."""

    path: str
    model: str
    duration_s: float
    head: str  # the bundle's primary head, whose score/threshold the server reports
    score: float
    threshold: float
    head_flag: bool
    head_scores: dict[str, float] = field(default_factory=dict)
    head_thresholds: dict[str, float] = field(default_factory=dict)
    reasons: list[Finding] = field(default_factory=list)  # most severe first
    silent: bool = False
    region: tuple[float, float] | None = None  # seconds of the file that were judged (None: all of it)
    context: dict | None = None  # the musical context judged against and where each part came from (None: not judged)
    standing: Standing | None = None  # the take among its sibling takes (None: no siblings were compared)

    @property
    def flagged_by(self) -> list[str]:
        """Which parts of the decision said 'off': the head's name and/or check kinds."""
        return ([self.head] if self.head_flag else []) + [f.kind for f in self.reasons]

    @property
    def flag(self) -> bool:
        """The decision: the primary head past its threshold OR any reason (silence, a check)."""
        return self.decision()

    def decision(self, head: str | None = None) -> bool:
        """The same rule with `head` deciding instead of the primary (`evaluate --head`)."""
        if head is None or head == self.head:
            over = self.head_flag
        else:
            over = self.head_scores[head] > self.head_thresholds[head]
        return over or bool(self.reasons)
