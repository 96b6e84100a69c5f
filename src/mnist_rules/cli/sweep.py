"""`mnist-rules sweep`: the whole samples-per-update axis, not three points on it. The
options' help is here; their defaults and checks are api/specs.py's, the body (and how
--sizes is read) is api/sweep.py."""

from __future__ import annotations

from pathlib import Path

from mnist_rules.api.specs import SWEEP
from mnist_rules.api.sweep import ALL, DEFAULT_SIZES, parse_sizes
from mnist_rules.api.sweep import sweep as run_sweep
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.options import option
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode

__all__ = ["ALL", "DEFAULT_SIZES", "parse_sizes", "sweep"]  # what tests read from here


@friendly_errors
def sweep(
    sizes: str = option(
        SWEEP["sizes"],
        help="Samples per update to train with, comma-separated: numbers, and all for the"
        " whole training set (one update per epoch).",
    ),
    epochs: int = option(SWEEP["epochs"], help="Epochs for each size."),
    target_acc: float = options.TargetAcc,
    lr: float | None = option(
        SWEEP["lr"],
        help="One learning rate for every size (default: the reference's, 0.01 for one"
        " sample per update and 0.1 for more).",
    ),
    shuffle: bool | None = option(
        SWEEP["shuffle"],
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
    plot: Path | None = option(SWEEP["plot"], help="Write the figure here (.png, .svg or .pdf)."),
    json_out: Path | None = option(
        SWEEP["json_out"], help="Write every run's results and time to target."
    ),
    csv_out: Path | None = option(SWEEP["csv_out"], help="Write one row per size per epoch."),
    quiet: bool = options.Quiet,
) -> None:
    """Train with each update size from the same initial weights; where does the
    trade-off between accuracy and time lie?"""
    run_sweep(**locals())  # the parameters, by name: the API takes the same
