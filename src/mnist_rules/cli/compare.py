"""`mnist-rules compare`: the rules side by side on one shared load of the data: which
reaches a target accuracy in the least training time, and what each costs per epoch.
The options' help is here; their defaults and checks are api/specs.py's, the body is
api/compare.py."""

from __future__ import annotations

from pathlib import Path

from mnist_rules.api.compare import DEFAULT_ENGINE
from mnist_rules.api.compare import compare as run_compare
from mnist_rules.api.specs import COMPARE
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.options import option
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.training.rules import DEFAULT_BATCH_SIZE, RULES, RuleName


def _lr_option(rule: RuleName):
    return option(
        COMPARE[f"lr_{rule.value}"],
        help=f"Learning rate of the {rule.value} rule (default {RULES[rule].default_lr:g}).",
    )


@friendly_errors
def compare(
    epochs: int = option(COMPARE["epochs"], help="Epochs for each rule."),
    rules: str = option(
        COMPARE["rules"], help="Rules to run, comma-separated, in the order to show them."
    ),
    target_acc: float = options.TargetAcc,
    lr_epoch: float | None = _lr_option(RuleName.epoch),
    lr_batch: float | None = _lr_option(RuleName.batch),
    lr_sample: float | None = _lr_option(RuleName.sample),
    batch_size: int | None = option(
        COMPARE["batch_size"],
        help=f"Samples per update of the batch rule (default {DEFAULT_BATCH_SIZE}).",
    ),
    update_losses: bool = option(
        COMPARE["update_losses"],
        help="Record the loss of every update and plot it (a fourth panel; needs --plot).",
    ),
    engine: EngineName | None = option(
        COMPARE["engine"],
        help=f"{options.ENGINE_HELP} Default: {DEFAULT_ENGINE.value}, unless --engines names"
        " the engines.",
    ),
    engines: str | None = option(
        COMPARE["engines"],
        help="Run each rule on each of these engines, comma-separated (torch,tuned), all"
        " from the same initial weights and order; in place of --engine.",
    ),
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    seed: int = options.Seed,
    plot: Path | None = option(COMPARE["plot"], help="Write the curves here (.png, .svg or .pdf)."),
    json_out: Path | None = option(
        COMPARE["json_out"], help="Write every run's results and the verdict's data."
    ),
    csv_out: Path | None = option(COMPARE["csv_out"], help="Write one row per rule per epoch."),
    quiet: bool = options.Quiet,
) -> None:
    """Train with each rule from the same initial weights; compare time to accuracy."""
    # The command line's own check: here the losses can only be seen in the plot (in
    # Python, the result keeps them for its plot() and update_losses).
    if update_losses and plot is None:
        raise UsageError("--update-losses adds a panel to the plot; give --plot PATH too.")
    run_compare(**locals())  # the parameters, by name: the API takes the same
