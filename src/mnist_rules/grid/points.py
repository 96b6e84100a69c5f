"""Which trials a configuration asks for, and the protocol that picks each arm's
learning rate (Shallue et al. 2018; DeepOBS):

  1. every lr of the grid on the first seed, each trial stopped at the reading that
     reaches the target (nothing more is learned for time to target);
  2. the best lr per arm: the fewest samples to the target, or, among trials that do
     not reach it, the best final accuracy; diverged trials last;
  3. the best lr rerun on every seed, all epochs.

Within one arm every lr costs the same per update, so samples to the target order the
trials as their training seconds do, without the clock's noise: the choice is the same
on a rerun, a resumed grid, or another worker. Plain functions of the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mnist_rules.grid.records import DIVERGED, FINAL, TUNE, TrialRecord


@dataclass(frozen=True)
class Point:
    """One trial of the grid: an arm (a rule or size, by its label) at one lr and seed."""

    label: str
    lr: float
    seed: int
    phase: str  # TUNE or FINAL

    @property
    def key(self) -> tuple[str, float, int, str]:
        return (self.label, self.lr, self.seed, self.phase)

    @property
    def params(self) -> dict[str, str | float | int]:
        """As Optuna's study records it (grid.study)."""
        return {"label": self.label, "lr": self.lr, "seed": self.seed, "phase": self.phase}


def tune_points(labels: Sequence[str], lrs: Sequence[float], seed: int) -> list[Point]:
    """Step 1: every lr for every arm, on the first seed."""
    return [Point(label, lr, seed, TUNE) for label in labels for lr in lrs]


def final_points(chosen: dict[str, float], seeds: Sequence[int]) -> list[Point]:
    """Step 3: each arm's lr (chosen, or its reference rate) on every seed."""
    return [Point(label, lr, seed, FINAL) for label, lr in chosen.items() for seed in seeds]


def _rank(record: TrialRecord) -> tuple:
    """Smaller is better: reached (by samples, then the accuracy there), then not
    reached (by final accuracy), then diverged; the smaller lr breaks a tie."""
    if record.target is not None:
        return (0, record.target.samples, -record.target.test_acc, record.lr)
    if record.status != DIVERGED and record.run.evaluations:
        return (1, 0, -record.run.evaluations[-1].test_acc, record.lr)
    return (2, 0, 0.0, record.lr)


def choose_lr(records: Sequence[TrialRecord]) -> float:
    """Step 2 for one arm: the lr of its best tuning trial."""
    return min(records, key=_rank).lr


def at_edge(lr: float, grid: Sequence[float]) -> bool:
    """Whether `lr` is the grid's smallest or largest (a better one may lie beyond)."""
    return len(grid) > 1 and lr in (min(grid), max(grid))
