"""A run's configuration: every option of `train`, checked once, with the rule's
defaults filled in; and where its data lives (--data-mode auto made concrete)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mnist_rules.data import mnist as data_mod
from mnist_rules.data import stream as streaming
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS, DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.errors import UsageError
from mnist_rules.training import distributed
from mnist_rules.training.rules import RULES, RuleName

# The most samples in one forward/backward pass: bounds activation memory (about 6 MB
# at 1000) whatever the update size, so the full-batch rule never holds N activations.
DEFAULT_CHUNK_SIZE = 1000


@dataclass
class TrainConfig:
    rule: RuleName = RuleName.batch
    epochs: int = 10
    lr: float | None = None  # None: the rule's reference learning rate
    # The batch rule's samples per update. None: 100, or the whole set if it is smaller;
    # an explicit size larger than the training set is refused.
    batch_size: int | None = None
    shuffle: bool | None = None  # None: the rule's default (batch reshuffles, others don't)
    seed: int = 0
    engine: EngineName = EngineName.tuned  # the plain PyTorch baseline: --engine torch
    # How the tuned engine runs its steps (engines.modes.StepMode): auto picks the fastest
    # measured for the device and rule; one that cannot run here falls back to eager
    # with a one-line warning (engines.modes.resolve_step_mode).
    step_mode: StepMode = StepMode.auto
    # Where the training images live: read whole (resident), or memory-mapped and
    # streamed a block at a time (stream, either engine; data/stream.py).
    data_mode: DataMode = DataMode.auto
    # Stream mode's samples per block (the batch rule shuffles blocks of this size,
    # and within them) and host buffers in its ring (data/stream.py).
    stream_block: int = STREAM_BLOCK
    stream_buffers: int = STREAM_BUFFERS
    # How inputs reach the device (`profile`): None is the engine's own way (torch: a
    # copy per step; tuned: resident). pinned: copies from pinned memory. CUDA only:
    # on a CPU there is nothing to copy, and both are ignored.
    transfer: Transfer | None = None
    pinned: bool = False
    device: DeviceChoice = DeviceChoice.auto
    dataset: DatasetName = DatasetName.mnist
    data_dir: Path | None = None
    train_subset: int | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Keep every update's loss (on the device; copied to the host once per epoch).
    record_update_losses: bool = False

    def __post_init__(self) -> None:
        # Plain strings are accepted too ("batch", "cpu"), for scripts and tests.
        self.rule = RuleName(self.rule)
        self.engine = EngineName(self.engine)
        self.step_mode = StepMode(self.step_mode)
        self.data_mode = DataMode(self.data_mode)
        mode = self.step_mode.value
        if self.data_mode is DataMode.stream and self.step_mode.captures:
            raise UsageError(
                f"--data-mode stream cannot run --step-mode {mode}: its captured steps need"
                " their data at fixed addresses. Use --step-mode eager, kernel or auto."
            )
        self.transfer = None if self.transfer is None else Transfer(self.transfer)
        if self.transfer is Transfer.per_step and self.step_mode.captures:
            raise UsageError(
                f"Per-step transfer cannot run --step-mode {mode}: a captured step cannot"
                " copy from the host memory of a different batch each time. Use"
                " --step-mode eager."
            )
        if self.engine is EngineName.torch and self.step_mode not in (
            StepMode.auto,
            StepMode.eager,
        ):
            raise UsageError(
                f"--step-mode {mode} applies to --engine tuned: the torch engine is the"
                " plain PyTorch baseline and runs op by op (eager)."
            )
        self.device = DeviceChoice(self.device)
        self.dataset = DatasetName(self.dataset)
        rule = RULES[self.rule]
        if self.lr is None:
            self.lr = rule.default_lr
        if self.shuffle is None:
            self.shuffle = rule.shuffle_by_default
        if self.epochs < 1:
            raise UsageError(f"--epochs must be at least 1; got {self.epochs}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive finite number; got {self.lr}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1; got {self.batch_size}.")
        if self.stream_block < 1:
            raise UsageError(f"--stream-block must be at least 1; got {self.stream_block}.")
        if self.stream_buffers < 2:
            raise UsageError(
                f"--stream-buffers must be at least 2 (one trained on, one being read);"
                f" got {self.stream_buffers}."
            )
        if self.chunk_size < 1:
            raise UsageError(f"chunk_size must be at least 1; got {self.chunk_size}.")


def resolve_data_mode(
    mode: DataMode,
    dataset: DatasetName,
    root: Path,
    step_mode: StepMode = StepMode.eager,
    world: distributed.World = distributed.SINGLE,
) -> DataMode:
    """--data-mode auto made concrete: stream only a set that would not fit in memory
    (once per process on this host), and only for eager steps; others as given."""
    if mode is not DataMode.auto:
        return mode
    if StepMode(step_mode).captures:
        return DataMode.resident
    images_file = data_mod.train_images_file(dataset, root)
    return DataMode(streaming.auto_data_mode(images_file, world.local_size))
