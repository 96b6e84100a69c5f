"""`mnist-rules profile`: where an update step's time goes (data, host-to-device
transfer, compute, overhead). The options' help is here; their defaults and checks are
api/specs.py's, the body is api/profile.py."""

from __future__ import annotations

from pathlib import Path

from mnist_rules.api.profile import profile as run_profile
from mnist_rules.api.specs import PROFILE
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.options import option
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.training.rules import RuleName


@friendly_errors
def profile(
    rule: RuleName = option(PROFILE["rule"], help="The update rule to profile."),
    engine: EngineName = options.Engine,
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    steps: int | None = option(
        PROFILE["steps"],
        help="Update steps to profile. Default: 2,000 (sample), 200 (batch), 2 (epoch: an"
        " update is a whole epoch).",
    ),
    warmup: int | None = option(
        PROFILE["warmup"],
        help="Update steps before measuring. Default: 100 (sample), 10 (batch), 1 (epoch).",
    ),
    transfer: Transfer | None = option(
        PROFILE["transfer"],
        help="per-step: copy each step's input to the device on its own (the reference's"
        " way); resident: move the whole set once. Default: the engine's own way (torch:"
        " per-step, tuned: resident). CUDA only.",
    ),
    pinned: bool | None = option(
        PROFILE["pinned"],
        help="Copy from pinned (page-locked) or pageable host memory. Default: pageable."
        " CUDA only.",
        show_default=False,
    ),
    compare_transfers: bool = option(
        PROFILE["compare_transfers"],
        help="Profile all four of per-step/resident x pinned/pageable and print them as"
        " one table (CUDA only).",
    ),
    trace: Path | None = option(PROFILE["trace"], help="Write a Chrome/Perfetto trace here."),
    trace_steps: int | None = option(
        PROFILE["trace_steps"],
        help="Update steps in the trace (default 100, at most --steps): a long trace is"
        " hundreds of MB.",
    ),
    json_out: Path | None = option(
        PROFILE["json_out"], help="Write the figures as JSON here (atomically)."
    ),
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    seed: int = options.Seed,
    quiet: bool = options.Quiet,
) -> None:
    """Measure where one update step's time goes: data, transfer, compute, overhead."""
    run_profile(**locals())  # the parameters, by name: the API takes the same
