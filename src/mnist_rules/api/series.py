"""What `compare` and `sweep` share: a series of runs on one load of the data under one
progress display, and their files written first, also for the runs that finished
when a later one diverged or was interrupted; and how the series' report is printed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.errors import RunStopped

if TYPE_CHECKING:
    from rich.console import Console

    from mnist_rules.config.train_config import TrainConfig
    from mnist_rules.data.mnist import MnistData
    from mnist_rules.report.comparison import Comparison
    from mnist_rules.training.loop import TrainingRun
    from mnist_rules.training.results import RunResult


def console_for(quiet: bool) -> Console:
    from rich.console import Console

    console = Console(quiet=quiet, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log or a pipe: room for the tables' thirteen columns,
        # their intervals unfolded (the sweep's over seeds takes about 220)
        console = Console(quiet=quiet, highlight=False, soft_wrap=True, width=230)
    return console


def load_data(config: TrainConfig):
    """One load of the data for every run of a series (they share the device, the
    dataset, its directory and subset, and the data mode of `config`)."""
    from mnist_rules.config.resolve import data_mode_for
    from mnist_rules.data import mnist as data_mod
    from mnist_rules.data.modes import DataMode
    from mnist_rules.device import resolve_device

    resolve_device(config.device)  # a missing GPU is reported before the data is loaded
    root = data_mod.resolve_data_dir(config.data_dir)
    stream = data_mode_for(config, root) is DataMode.stream
    return data_mod.load(config.dataset, root, config.train_subset, stream=stream)


def train_series(
    configs: Sequence[TrainConfig],
    data: MnistData,
    console: Console,
    comparison_of: Callable[[list[RunResult]], Comparison],
    outputs: tuple[Path | None, Path | None],
    each: Callable[[TrainConfig, TrainingRun], None] = lambda config, run: None,
) -> Comparison:
    """Train each config in turn, all from the seed's weights. `outputs`: the JSON and
    CSV paths; when a run stops early, the finished runs and epochs are written there
    before the error goes on. `each`: called with every finished run."""
    from mnist_rules.report.progress import RichReporter
    from mnist_rules.training.interrupts import stop_after_update_on_signals
    from mnist_rules.training.loop import train

    epochs = max(config.epochs for config in configs)
    results = []
    try:
        with (
            stop_after_update_on_signals(),
            RichReporter(epochs, console, runs=len(configs)) as reporter,
        ):
            for config in configs:
                run = train(config, data=data, reporter=reporter)
                results.append(run.result)
                each(config, run)
    except RunStopped as stopped:  # diverged or interrupted: keep the finished runs
        partial = stopped.result
        kept = results + ([partial] if partial is not None and partial.epochs else [])
        written = [p for p in outputs if p is not None]
        if kept and written:
            write_files(comparison_of(kept), *outputs)
            where = " and ".join(str(p) for p in written)
            stopped.args = (f"{stopped} The finished runs and epochs are in {where}.",)
        raise
    comparison = comparison_of(results)
    # The files first: minutes of training must not be lost to a failure in printing.
    write_files(comparison, *outputs)
    return comparison


def print_report(
    console: Console, parts, json_out: Path | None, csv_out: Path | None, plot: Path | None
) -> None:
    """After the runs: the result's tables and verdict (`parts`), then the files written."""
    console.print()
    for renderable, soft_wrap in parts:
        console.print(renderable, soft_wrap=soft_wrap)
    for path, what in ((json_out, "results"), (csv_out, "per-epoch table"), (plot, "plot")):
        if path is not None:
            console.print(f"{what} written to {path}")


def write_files(comparison: Comparison, json_out: Path | None, csv_out: Path | None) -> None:
    if json_out is not None:
        comparison.write_json(json_out)
    if csv_out is not None:
        comparison.write_csv(csv_out)
