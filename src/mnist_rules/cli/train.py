"""`mnist-rules train`: train with one update rule and report each epoch. The options'
help is here; their defaults and checks are api/specs.py's, the body is api/train.py."""

from __future__ import annotations

from pathlib import Path

from mnist_rules.api.specs import TRAIN
from mnist_rules.api.train import train as run_train
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.options import option
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.training.rules import DEFAULT_BATCH_SIZE, RuleName


@friendly_errors
def train(
    rule: RuleName = option(
        TRAIN["rule"],
        help="epoch: one update per epoch (full batch); batch: one per mini-batch;"
        " sample: one per image.",
    ),
    epochs: int = option(TRAIN["epochs"], help="Passes over the training set."),
    lr: float | None = option(
        TRAIN["lr"],
        help="Learning rate. Default: the reference 0.1 (epoch, batch), 0.01 (sample).",
    ),
    batch_size: int | None = option(
        TRAIN["batch_size"],
        help=f"Samples per update for --rule batch (default {DEFAULT_BATCH_SIZE}).",
    ),
    shuffle: bool | None = option(
        TRAIN["shuffle"],
        help="Reshuffle every epoch. Default: on for batch, off (dataset order) otherwise.",
        show_default=False,
    ),
    engine: EngineName = options.Engine,
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    seed: int = options.Seed,
    json_out: Path | None = option(
        TRAIN["json_out"], help="Write the results JSON here (atomically)."
    ),
    save: Path | None = option(TRAIN["save"], help="Save the final weights (a state_dict) here."),
    checkpoint: Path | None = option(
        TRAIN["checkpoint"],
        help="Save a checkpoint here after every epoch and when Ctrl-C or SIGTERM stops"
        " the run (atomically; resume it with --resume).",
    ),
    checkpoint_every: int | None = option(
        TRAIN["checkpoint_every"],
        help="Also save one every N updates within an epoch (batch and sample rules; the"
        " tuned engine's sample rule at the next block of 128).",
    ),
    resume: Path | None = option(
        TRAIN["resume"],
        help="Go on from this checkpoint: give the options of the run that wrote it; a"
        " larger --epochs trains on.",
    ),
    require_acc: float | None = option(
        TRAIN["require_acc"],
        help="Exit with code 1 if the final test accuracy (percent) is below this.",
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Train the MLP with one update rule; print a line per epoch."""
    run_train(**locals())  # the parameters, by name: the API takes the same
