"""The model of a sweep (theory/): its points read from the recorded runs, fitted, and
what it predicts set beside what was measured. S(B) from each size's steps to the
target (the median over the seeds that reached it, every engine's seeds together: the
engines do the same math); t(B) per engine from its runs' own training seconds per
update (the median over its seeds; evaluations are off that clock). Sizes that did not
reach the target (report.replicates' rule) have no steps to fit and are listed."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mnist_rules.report.comparison import Comparison
from mnist_rules.report.replicates import ArmSummary
from mnist_rules.theory.cost_fit import CostFit, fit_cost
from mnist_rules.theory.prediction import best_size, time_to_target
from mnist_rules.theory.steps_fit import StepsFit, fit_steps

TOO_FEW = "fewer than two sizes {what}"


@dataclass
class EngineModel:
    """One engine's cost fit and what it predicts against what it measured."""

    engine: str
    device: str
    cost: CostFit | None
    why_not: str | None  # why there is no fit
    measured_best: int | None  # the size with the lowest median time to the target
    measured: dict[int, float] = field(default_factory=dict)  # size -> median seconds

    def predicted_best(self, steps: StepsFit | None) -> float | None:
        return None if steps is None or self.cost is None else best_size(steps, self.cost)

    def to_dict(self, steps: StepsFit | None) -> dict[str, Any]:
        fitted = self.cost.to_dict() if self.cost is not None else {"t0": None, "c": None}
        predicted = [
            {"size": size, "measured_seconds": seconds,
             "predicted_seconds": None if steps is None or self.cost is None
             else time_to_target(steps, self.cost, size)}
            for size, seconds in sorted(self.measured.items())
        ]  # fmt: skip
        return {
            "device": self.device,
            **fitted,
            "predicted_best_size": self.predicted_best(steps),
            "measured_best_size": self.measured_best,
            "time_to_target": predicted,
            "not_fitted": self.why_not,
        }


@dataclass
class SpeedModel:
    steps: StepsFit | None
    steps_why_not: str | None
    # Sizes with no steps to the target: the updates their seeds trained (the median; a
    # size whose every seed diverged is left out), floors the fit is held above.
    not_reached: dict[int, float]
    engines: dict[str, EngineModel]
    noise_scale: dict[str, Any] | None  # B_simple along one training (api.noise_scale)
    steps_measured: dict[int, list[int]] = field(default_factory=dict)  # each seed's, by size
    whole: int | None = None  # the training set's size: the size named "all"

    def to_dict(self) -> dict[str, Any]:
        steps = (self.steps.to_dict() if self.steps is not None
                 else {"s_min": None, "b_crit": None, "points": []})  # fmt: skip
        contradicted = {b for b, _ in self.steps.short_of()} if self.steps is not None else set()
        return {
            **steps,
            "steps_not_fitted": self.steps_why_not,
            "not_reached": [
                {
                    "size": size,
                    "updates_trained": updates,
                    "fitted": None if self.steps is None else self.steps.steps_at(size),
                    "contradicts_fit": size in contradicted,
                }
                for size, updates in self.not_reached.items()
            ],
            "noise_scale": self.noise_scale,
            "engines": {name: m.to_dict(self.steps) for name, m in self.engines.items()},
        }


def _size(summary: ArmSummary) -> int:
    return summary.runs[0].batch_size


def seconds_per_update(summary: ArmSummary) -> float | None:
    """The median over the arm's seeds that trained of training seconds per update."""
    values = []
    for run, diverged in zip(summary.runs, summary.diverged, strict=True):
        last = run.evaluations[-1] if run.evaluations else None
        if not diverged and last is not None and last.updates > 0 and last.train_seconds > 0:
            values.append(last.train_seconds / last.updates)
    return statistics.median(values) if values else None


def _fitted(fit: Callable, *args) -> tuple[Any, str | None]:
    """fit(*args), or None and why: curve_fit found no optimum."""
    try:
        return fit(*args), None
    except (RuntimeError, ValueError) as failed:
        return None, f"the fit failed ({failed})"


def speed_model(comparison: Comparison, noise_scale: dict[str, Any] | None = None) -> SpeedModel:
    summaries = list(comparison.summaries().values())
    steps_by_size: dict[int, list[int]] = {}
    for summary in summaries:
        if summary.reached:
            updates = [hit.updates for hit in summary.hits if hit is not None and hit.updates]
            if updates:  # results without evaluations (schema < 4) have no updates to fit
                steps_by_size.setdefault(_size(summary), []).extend(updates)
    sizes = sorted(steps_by_size)
    trained: dict[int, list[int]] = {}
    for summary in summaries:
        if _size(summary) not in steps_by_size:
            # A diverged seed says nothing of the steps the target takes: not a floor.
            trained.setdefault(_size(summary), []).extend(
                run.evaluations[-1].updates
                for run, diverged in zip(summary.runs, summary.diverged, strict=True)
                if run.evaluations and not diverged
            )
    not_reached = {b: statistics.median(u) for b, u in sorted(trained.items()) if u}
    steps, why = None, TOO_FEW.format(what="reached the target")
    if len(sizes) >= 2:
        medians = [statistics.median(steps_by_size[b]) for b in sizes]
        steps, why = _fitted(fit_steps, sizes, medians, list(not_reached.items()))

    engines = {}
    for engine in dict.fromkeys(s.runs[0].engine for s in summaries):
        mine = [s for s in summaries if s.runs[0].engine == engine]
        costs = {_size(s): seconds_per_update(s) for s in mine}
        costs = {b: t for b, t in sorted(costs.items()) if t is not None}
        cost, failed = None, None
        if len(costs) >= 2:
            cost, failed = _fitted(fit_cost, list(costs), list(costs.values()))
        measured = {_size(s): s.time.median for s in mine if s.time is not None}
        best = min(measured, key=measured.get) if measured else None
        first = mine[0].runs[0]
        engines[engine] = EngineModel(
            engine, f"{first.device}: {first.device_name}", cost,
            None if cost is not None else failed or TOO_FEW.format(what="trained"), best, measured,
        )  # fmt: skip
    whole = summaries[0].runs[0].train_size if summaries else None
    return SpeedModel(steps, why, not_reached, engines, noise_scale, steps_by_size, whole)
