"""`mnist-rules sweep`: the whole samples-per-update axis, not three points on it. The
same network from the same initial weights, trained with each update size in turn;
a size is a samples-per-update value, as a rule is (1: the sample rule, all: the epoch
rule, b: the batch rule with b samples), so the one loop trains them all."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.outputs import check_outputs
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

DEFAULT_SIZES = "1,10,100,1000,all"
ALL = None  # the whole training set, in a parsed list of sizes


def parse_sizes(text: str) -> list[int | None]:
    """`--sizes 1,10,all` as [1, 10, ALL]; a one-line error for anything else."""
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if not tokens:
        raise UsageError("--sizes needs at least one size: samples per update, or all.")
    sizes: list[int | None] = []
    for token in tokens:
        if token.lower() == "all":
            sizes.append(ALL)
            continue
        try:
            size = int(token)
        except ValueError:
            raise UsageError(
                f"--sizes {text}: {token!r} is not a number of samples per update (or all)."
            ) from None
        if size < 1:
            raise UsageError(f"--sizes {text}: a size must be at least 1; got {size}.")
        sizes.append(size)
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"--sizes {text}: each size may be named once.")
    return sizes


def check_sizes(sizes: list[int | None], n: int, text: str) -> None:
    """Against the training set: a size larger than it, or the same as `all`, is refused."""
    for size in sizes:
        if size is not ALL and size > n:
            raise UsageError(
                f"--sizes {text}: {size:,} samples per update is more than the training set"
                f" ({n:,} images); use all for one update per epoch."
            )
    if ALL in sizes and n in sizes:
        raise UsageError(
            f"--sizes {text}: {n:,} and all are both the whole training set; name it once."
        )


@friendly_errors
def sweep(
    sizes: str = typer.Option(
        DEFAULT_SIZES,
        "--sizes",
        help="Samples per update to train with, comma-separated: numbers, and all for the"
        " whole training set (one update per epoch).",
    ),
    epochs: int = typer.Option(5, "--epochs", min=1, help="Epochs for each size."),
    target_acc: float = options.TargetAcc,
    lr: float | None = typer.Option(
        None,
        "--lr",
        help="One learning rate for every size (default: the reference's, 0.01 for one"
        " sample per update and 0.1 for more).",
    ),
    shuffle: bool | None = typer.Option(
        None,
        "--shuffle/--no-shuffle",
        help="Reshuffle every epoch (default: as the rules do: one sample per update in"
        " dataset order, larger updates reshuffled).",
        show_default=False,
    ),
    engine: EngineName = options.Engine,
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    data_mode: DataMode = options.DataModeOption,
    seed: int = options.Seed,
    plot: Path | None = typer.Option(
        None, "--plot", dir_okay=False, help="Write the figure here (.png, .svg or .pdf)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write every run's results and time to target."
    ),
    csv_out: Path | None = typer.Option(
        None, "--csv", dir_okay=False, help="Write one row per size per epoch."
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Train with each update size from the same initial weights; where does the
    trade-off between accuracy and time lie?"""
    if world_from_env().distributed:
        raise UsageError("mnist-rules sweep runs in one process; run it without torchrun.")
    chosen = parse_sizes(sizes)
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive finite number; got {lr}.")
    check_outputs(json_out, csv_out, plot)  # before minutes of training

    # Imported here, not at the top: --help must not pay for torch, rich or matplotlib.
    from mnist_rules.cli.compare_report import accuracy_table
    from mnist_rules.cli.series import console_for, load_data, train_series
    from mnist_rules.cli.sweep_report import size_heading, sweep_table
    from mnist_rules.report.comparison import Comparison, size_label
    from mnist_rules.report.sweep_verdict import sweep_verdict
    from mnist_rules.training.config import TrainConfig

    def config_for(size: int | None) -> TrainConfig:
        rule = RuleName.epoch if size is ALL else RuleName.sample if size == 1 else RuleName.batch
        return TrainConfig(
            rule=rule,
            epochs=epochs,
            lr=lr,
            batch_size=size if rule is RuleName.batch else None,
            shuffle=shuffle,
            seed=seed,  # the same seed: every size starts from the same weights
            engine=engine,
            step_mode=step_mode,
            device=device,
            dataset=dataset,
            data_mode=data_mode,
        )

    first = config_for(chosen[0])  # checks the options before the data is read
    data = load_data(first, data_dir, train_subset)  # shared by the runs
    if sizes == DEFAULT_SIZES:  # a small --train-subset: the default sizes that fit
        chosen = [size for size in chosen if size is ALL or size < data.train_size]
    check_sizes(chosen, data.train_size, sizes)
    configs = [config_for(size) for size in chosen]
    console = console_for(quiet)
    comparison = train_series(
        configs,
        data,
        console,
        lambda results: Comparison(results, target_acc, label=size_label),
        (json_out, csv_out),
    )
    if plot is not None:
        from mnist_rules.report.plots import save_figure
        from mnist_rules.report.sweep_plot import sweep_figure

        save_figure(sweep_figure(comparison), plot)

    console.print()
    console.print(sweep_table(comparison), soft_wrap=False)
    console.print(accuracy_table(comparison, size_heading, noun="update size"), soft_wrap=False)
    console.print(sweep_verdict(comparison))
    for path, what in ((json_out, "results"), (csv_out, "per-epoch table"), (plot, "plot")):
        if path is not None:
            console.print(f"{what} written to {path}")
