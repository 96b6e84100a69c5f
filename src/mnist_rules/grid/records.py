"""What the grid keeps of its trials: one TrialRecord per (arm, lr, seed, phase), and
the tuning's outcome. Plain data (no optuna, no torch): the report reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mnist_rules.training.results import EpochResult, Evaluation, RunResult

TUNE, FINAL = "tune", "final"  # the phases: every lr on the first seed; the chosen on all
# How a trial ended: at the target (tuning trials stop there), after its last epoch,
# given up on by the pruner, or with a NaN or infinite loss.
REACHED, FINISHED, PRUNED, DIVERGED = "reached", "finished", "pruned", "diverged"


@dataclass
class TrialRecord:
    label: str  # the arm: a rule (compare) or a size (sweep: "1", "100", "all")
    lr: float
    seed: int
    phase: str  # TUNE or FINAL
    status: str  # REACHED, FINISHED, PRUNED or DIVERGED
    run: RunResult  # as far as it went (a diverged run: its finished epochs)
    target: Evaluation | None = None  # the first reading at or above the target
    # Each epoch's loss of every update (tensors), when the run kept them: in memory
    # only, not in the JSON or the storage.
    update_losses: list[Any] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "lr": self.lr, "seed": self.seed, "phase": self.phase,
            "status": self.status, "run": self.run.to_dict(),
            "target": None if self.target is None else vars(self.target),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialRecord:
        run = dict(d["run"])
        run["epochs"] = [EpochResult(**e) for e in run["epochs"]]
        run["evaluations"] = [Evaluation(**e) for e in run["evaluations"]]
        target = None if d["target"] is None else Evaluation(**d["target"])
        fields = {k: d[k] for k in ("label", "lr", "seed", "phase", "status")}
        return cls(**fields, run=RunResult(**run), target=target)


@dataclass
class Tuning:
    """The learning rate per arm: every lr of `grid` on `seed`, the best kept."""

    grid: list[float]
    seed: int
    chosen: dict[str, float]  # the best lr, by label
    at_edge: dict[str, bool]  # whether it is the grid's smallest or largest
    trials: list[TrialRecord] = field(default_factory=list)  # the tuning phase's

    @property
    def seconds(self) -> float:
        """The tuning's cost: the training seconds of all its trials."""
        return sum(t.run.total_train_seconds for t in self.trials)

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": self.grid, "seed": self.seed, "chosen": self.chosen,
            "at_edge": self.at_edge, "seconds": self.seconds,
            "trials": [t.to_dict() for t in self.trials],
        }  # fmt: skip
