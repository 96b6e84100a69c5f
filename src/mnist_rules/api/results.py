"""What train, compare and sweep return: the result dataclasses the JSON contract is
written from (training.results, report.comparison), with what a notebook expects on top:
`to_dataframe()`, `plot()`, and a display as the lines and tables the command prints.

Subclasses, not wrappers: `to_dict()` is the contract's own, so a result equals the
JSON its command writes with --json. No torch here; matplotlib and rich are imported
when a figure or a table is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from mnist_rules.api.display import Parts, Shown
from mnist_rules.report.comparison import Comparison
from mnist_rules.training.results import RunResult

DEFAULT_TARGET = 96.0  # what plot() marks on a single run's curves, as compare does


class TrainResult(Shown, RunResult):
    """One run (`train`, and each run of `compare` and `sweep`): the run's settings and
    `epochs`, one EpochResult per finished epoch (epoch, train_loss, test_acc,
    train_seconds, updates, eval_seconds); `final`, `best`, `total_train_seconds`."""

    @classmethod
    def of(cls, run: RunResult) -> TrainResult:
        return cls(**{f.name: getattr(run, f.name) for f in fields(run)})

    def parts(self) -> Parts:
        """The lines `train` prints: the run, each epoch, the final accuracy."""
        from mnist_rules.report.progress import epoch_line, final_line, run_line

        updates = self.epochs[-1].updates if self.epochs else 0
        lines = [run_line(self, updates)]
        lines += [epoch_line(epoch, len(self.epochs)) for epoch in self.epochs]
        if self.epochs:
            lines.append(final_line(self))
        return [(line, True) for line in lines]

    def rows(self) -> list[dict[str, Any]]:
        return Comparison([self], DEFAULT_TARGET).csv_rows()

    def plot(self, target_acc: float = DEFAULT_TARGET):
        """compare's figure for this one run (loss, accuracy per epoch and against
        time), the target marked: a matplotlib Figure."""
        from mnist_rules.report.plots import comparison_figure

        return comparison_figure(Comparison([self], target_acc))


class _Runs(Shown):
    """What compare's and sweep's results share: the runs, found by their label."""

    def run(self, label: Any) -> TrainResult:
        """The run named `label` in the JSON: a rule ("sample"), engine/rule with
        several engines ("torch/batch"), or a sweep's size (1, 100, "all"); with several
        seeds, its first seed's (all of them: runs_of)."""
        return self.runs_of(label)[0]

    def runs_of(self, label: Any) -> list[TrainResult]:
        """The runs named `label`, one per seed, in seed order."""
        runs = [run for run in self.runs if self.label(run) == str(label)]
        if not runs:
            names = ", ".join(repr(name) for name in self.labels)
            raise KeyError(f"no run named {label!r}; the runs are {names}")
        return runs

    def rows(self) -> list[dict[str, Any]]:
        return self.csv_rows()


@dataclass(repr=False)  # shown by Shown's _repr_pretty_, not a field dump
class CompareResult(_Runs, Comparison):
    """`compare`'s result: `runs` (TrainResults, in the order they ran: rule by rule,
    seed by seed), `target_acc`, `summaries()` (each rule's seeds together:
    report.replicates.ArmSummary), `reached()` (each rule's first seed's TargetReached
    or None), `trials` and `tuning` (the grid's), `to_dict()` as --json writes it.
    `update_losses`: each run's loss of every update (numpy arrays by label), when
    compare was asked for them; not in the JSON."""

    update_losses: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def parts(self, curve_width: int | None = None) -> Parts:
        """The tables and the verdict compare prints; the terminal's accuracy curve
        between them when `curve_width` (the terminal's) is given."""
        from mnist_rules.report.compare_tables import accuracy_table, summary_table, terminal_curve
        from mnist_rules.report.verdict import engines_verdict, verdict

        several = len(self.engines) > 1
        heading = [lambda run: f"{run.engine} {run.rule}"] if several else []
        parts: Parts = [(summary_table(self), False), (accuracy_table(self, *heading), False)]
        if curve_width is not None and max(len(run.epochs) for run in self.runs) > 1:
            curve = terminal_curve(self, curve_width)
            parts.append((curve or "(no terminal curve: install uniplot to draw one)", False))
        parts.append((engines_verdict(self) if several else verdict(self), True))
        return parts

    def plot(self):
        """The figure `compare --plot` draws (four panels with update_losses)."""
        from mnist_rules.report.plots import comparison_figure

        return comparison_figure(self, self.update_losses)


@dataclass(repr=False)
class SweepResult(_Runs, Comparison):
    """`sweep`'s result: `runs` (TrainResults, one per size and seed, in --sizes order;
    a run's `batch_size` is its samples per update), `target_acc`, `summaries()`,
    `reached()`, `trials`, `tuning`, `noise_scale` (B_simple along the fastest size's
    training, when measured), `model()` (the fitted model: docs/theory.md), `to_dict()`."""

    noise_scale: dict[str, Any] | None = field(default=None, repr=False)

    def model(self):
        """S(B), t(B) per engine and what they predict (report.speed_model.SpeedModel)."""
        from mnist_rules.report.speed_model import speed_model

        return speed_model(self, self.noise_scale)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "model": self.model().to_dict()}

    def parts(self) -> Parts:
        from mnist_rules.report.compare_tables import accuracy_table
        from mnist_rules.report.speed_model_text import model_paragraph
        from mnist_rules.report.sweep_tables import engine_size_heading, size_heading, sweep_table
        from mnist_rules.report.sweep_verdict import sweep_verdict

        heading = engine_size_heading if len(self.engines) > 1 else size_heading
        return [
            (sweep_table(self), False),
            (accuracy_table(self, heading, noun="update size"), False),
            (sweep_verdict(self), True),
            (model_paragraph(self.model()), True),
        ]

    def plot(self):
        """The figure `sweep --plot` draws: with the model's panel (docs/theory.md)."""
        from mnist_rules.report.sweep_plot import sweep_figure

        return sweep_figure(self, self.model())
