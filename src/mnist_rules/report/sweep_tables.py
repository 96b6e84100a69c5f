"""What `sweep` prints: one row per update size, in the order --sizes gave them."""

from __future__ import annotations

from rich.table import Table

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, peak_mib, whole_set
from mnist_rules.report.numbers import seconds, significant
from mnist_rules.training.results import RunResult


def size_heading(run: RunResult) -> str:
    return "all" if whole_set(run) else f"b = {run.batch_size:,}"


def duration(seconds: float) -> str:
    """Two significant figures, in a unit that keeps them readable: 23 µs, 1.5 ms, 0.75 s."""
    rounded = float(significant(seconds).replace(",", ""))  # 99.97 ms is 100 ms, not 1e+02
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if rounded >= scale or unit == "µs":
            return f"{significant(rounded / scale)} {unit}"
    raise AssertionError("unreachable")


def sweep_table(comparison: Comparison) -> Table:
    target = f"{comparison.target_acc:g}%"
    table = Table(title="Samples per update swept", title_justify="left")
    for header in (
        "samples / update",
        "updates / epoch",
        "lr",
        "median s / epoch",
        "per update",
        "peak MiB",
        "final acc %",
        "best acc %",
        f"{target} at epoch",
        f"{target} after s",
    ):
        table.add_column(header, justify="right")
    reached = comparison.reached()
    for run in comparison.runs:
        hit = reached[comparison.label(run)]
        per_epoch = median_epoch_seconds(run)
        size = f"{run.batch_size:,}" + (" (all)" if whole_set(run) else "")
        table.add_row(
            size,
            f"{run.final.updates:,}",
            f"{run.lr:g}",
            seconds(per_epoch, 2),
            duration(per_epoch / run.final.updates),
            peak_mib(run),
            f"{run.final.test_acc:.2f}",
            f"{run.best.test_acc:.2f}",
            "not reached" if hit is None else f"{hit.epoch}",
            "—" if hit is None else seconds(hit.seconds),
        )
    return table
