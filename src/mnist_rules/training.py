"""The training loop: one loop for all three rules.

A rule only fixes how many samples make one update (N, b or 1). The epoch is planned
once as a list of chunks (mnist_rules.rules.plan_epoch); the loop hands each chunk's
data to the engine, which accumulates its weighted gradient and applies the update
after an update's last chunk. Sync points are explicit: the engine's epoch loss is
read once per epoch (which also ends the timed region), and a reporter may read the
running loss at its refreshes, never per step.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

import mnist_rules
from mnist_rules import data as data_mod
from mnist_rules.data import DatasetName, MnistData
from mnist_rules.device import DeviceChoice, describe, resolve_device
from mnist_rules.engines import EngineName, StepMode, Transfer, create_engine
from mnist_rules.errors import Diverged, Interrupted, UsageError
from mnist_rules.interrupts import STOP
from mnist_rules.model import build_mlp
from mnist_rules.results import EpochResult, RunResult
from mnist_rules.rules import DEFAULT_BATCH_SIZE, RULES, RuleName, plan_epoch

# The most samples in one forward/backward pass: bounds activation memory (about 6 MB
# at 1000) whatever the update size, so the full-batch rule never holds N activations.
DEFAULT_CHUNK_SIZE = 1000
# How often per epoch a reporter is called (it may read the running loss, a sync).
REFRESHES_PER_EPOCH = 100


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
    engine: EngineName = EngineName.torch
    # The tuned engine's step launches (engines.capture). The CLI's --compile asks for
    # graph: CUDA graphs, which on CPU fall back to eager with a warning.
    step_mode: StepMode = StepMode.eager
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
        self.transfer = None if self.transfer is None else Transfer(self.transfer)
        if self.transfer is Transfer.per_step and self.step_mode is not StepMode.eager:
            raise UsageError(
                "Per-step transfer runs eagerly: a CUDA graph cannot copy from the host"
                " memory of a different batch each time. Drop --compile."
            )
        if self.engine is EngineName.torch and self.step_mode is not StepMode.eager:
            raise UsageError(
                "--compile applies to --engine tuned: the torch engine is the plain"
                " PyTorch baseline and runs op by op."
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
        if self.chunk_size < 1:
            raise UsageError(f"chunk_size must be at least 1; got {self.chunk_size}.")


class Reporter(Protocol):
    """What the loop tells whoever shows progress. `running_loss` synchronises the
    device; a reporter that shows no loss never calls it."""

    def start_run(self, run: RunResult, updates_per_epoch: int) -> None: ...

    def start_epoch(self, epoch: int, samples: int, updates: int) -> None: ...

    def advance(self, samples: int, updates: int, running_loss: Callable[[], float]) -> None: ...

    def end_epoch(self, result: EpochResult) -> None: ...


class SilentReporter:
    def start_run(self, run, updates_per_epoch):
        pass

    def start_epoch(self, epoch, samples, updates):
        pass

    def advance(self, samples, updates, running_loss):
        pass

    def end_epoch(self, result):
        pass


SILENT = SilentReporter()


class TrainingRun:
    """One configured run: its engine, epoch plan and shuffling RNG, set up once; then
    epochs, one at a time. `train` drives it; benchmarks time its `train_epoch`."""

    def __init__(self, config: TrainConfig, data: MnistData | None = None):
        self.config = config
        device = resolve_device(config.device)
        if data is None:
            root = data_mod.resolve_data_dir(config.data_dir)
            data = data_mod.load(config.dataset, root, config.train_subset)
        elif config.train_subset is not None:
            data = data.with_train_size(config.train_subset)
        rule = RULES[config.rule]
        n = data.train_size
        batch_size = config.batch_size or min(DEFAULT_BATCH_SIZE, n)
        if config.rule is RuleName.batch and batch_size > n:
            raise UsageError(
                f"--batch-size {batch_size} is larger than the training set ({n} images)."
                " Use a smaller batch, or the epoch rule for one update per epoch."
            )
        samples_per_update = rule.samples_per_update(n, batch_size)

        step_mode = config.step_mode
        if step_mode is StepMode.graph and device.type != "cuda":
            warnings.warn(
                f"--compile: CUDA graphs need a CUDA device; the tuned engine runs eagerly"
                f" on {device.type}.",
                RuntimeWarning,
                stacklevel=2,
            )
            step_mode = StepMode.eager
        self.engine = create_engine(
            config.engine,
            build_mlp(config.seed),
            data,
            device,
            config.lr,
            step_mode,
            transfer=config.transfer,
            pinned=config.pinned,
        )
        self.chunks = plan_epoch(n, samples_per_update, config.chunk_size)
        self.engine.plan(self.chunks)
        self.updates_per_epoch = rule.updates_per_epoch(n, batch_size)
        self._order_rng = torch.Generator().manual_seed(config.seed)
        # One tensor per finished epoch: the loss of each update, when recorded.
        self.update_losses: list[torch.Tensor] = []
        # Kept always (one device write per update): they also locate a divergence.
        self.engine.record_update_losses(self.updates_per_epoch)
        self.result = RunResult(
            rule=config.rule.value,
            engine=self.engine.name,
            device=device.type,
            device_name=describe(device),
            dataset=data.name.value,
            lr=config.lr,
            batch_size=samples_per_update,
            seed=config.seed,
            train_size=n,
            test_size=len(data.test),
            shuffle=config.shuffle,
            torch_version=torch.__version__,
            mnist_rules_version=mnist_rules.__version__,
            threads=self.engine.threads,
            step_mode=step_mode.value,
        )

    def next_order(self) -> torch.Tensor:
        """The epoch's sample order: a fresh permutation, or dataset order."""
        n = self.result.train_size
        return (
            torch.randperm(n, generator=self._order_rng) if self.config.shuffle else torch.arange(n)
        )

    def train_epoch(self, reporter: Reporter = SILENT) -> tuple[float, float, int]:
        """One epoch of updates, no evaluation: (mean train loss, seconds, updates).
        Raises Diverged at the first refresh (or the epoch's end) whose running loss
        is NaN or infinite, naming the update where it first was."""
        engine, chunks = self.engine, self.chunks
        order = self.next_order()
        refresh_every = math.ceil(len(chunks) / REFRESHES_PER_EPOCH)
        updates = 0
        start = time.perf_counter()
        for i, (batch, chunk) in enumerate(zip(engine.batches(order, chunks), chunks, strict=True)):
            engine.step(batch, chunk)
            updates += chunk.last
            if chunk.last and STOP.signal is not None:  # Ctrl-C or SIGTERM: stop here
                raise self._interrupted(updates)
            if (i + 1) % refresh_every == 0 or i + 1 == len(chunks):
                loss = engine.running_loss()  # a sync, a hundred times an epoch at most
                if not math.isfinite(loss):
                    raise self._diverged(loss)
                reporter.advance(chunk.stop, updates, lambda loss=loss: loss)
        train_loss = engine.take_epoch_loss()  # the epoch's last sync ends the timed region
        seconds = time.perf_counter() - start
        if not self._weights_finite():  # the epoch's last update broke them
            raise self._diverged(math.nan, update=self.updates_per_epoch, what="weights")
        update_losses = engine.take_update_losses()
        if self.config.record_update_losses:
            self.update_losses.append(update_losses)
        return train_loss, seconds, updates

    def _weights_finite(self) -> bool:
        params = list(self.engine.model.parameters())
        return bool(torch.stack([p.detach().isfinite().all() for p in params]).all())

    def _finished_note(self) -> str:
        finished = len(self.result.epochs)
        return f" {finished} epoch{'' if finished == 1 else 's'} had finished." if finished else ""

    def _interrupted(self, update: int) -> Interrupted:
        epoch = len(self.result.epochs) + 1
        return Interrupted(
            f"Interrupted ({STOP.name}) at epoch {epoch}, update {update:,} of"
            f" {self.updates_per_epoch:,}: training stopped after that update."
            + self._finished_note(),
            result=self.result,
        )

    def _diverged(self, loss: float, update: int | None = None, what: str = "loss") -> Diverged:
        epoch = len(self.result.epochs) + 1
        if update is None:
            first = self.engine.first_nonfinite_update()
            update = (first if first is not None else 0) + 1
        value = "NaN" if math.isnan(loss) else "infinite"
        if what == "weights":
            value = "NaN or infinite"
        lr = self.config.lr
        return Diverged(
            f"Training diverged: the {self.result.rule} rule's {what} became {value} at epoch"
            f" {epoch}, update {update:,} of {self.updates_per_epoch:,} (lr {lr:g}). Try a"
            f" lower learning rate, such as --lr {lr / 10:g}." + self._finished_note(),
            result=self.result,
        )

    def run_epoch(self, reporter: Reporter = SILENT) -> EpochResult:
        """Train one epoch, evaluate, and record it in `result`."""
        epoch = len(self.result.epochs) + 1
        reporter.start_epoch(epoch, self.result.train_size, self.updates_per_epoch)
        train_loss, train_seconds, updates = self.train_epoch(reporter)
        eval_start = time.perf_counter()
        test_acc = self.engine.evaluate()
        epoch_result = EpochResult(
            epoch=epoch,
            train_loss=train_loss,
            test_acc=test_acc,
            train_seconds=train_seconds,
            updates=updates,
            eval_seconds=time.perf_counter() - eval_start,
        )
        self.result.epochs.append(epoch_result)
        reporter.end_epoch(epoch_result)
        return epoch_result


def train(
    config: TrainConfig,
    data: MnistData | None = None,
    reporter: Reporter = SILENT,
) -> TrainingRun:
    """Train from `config`; `data` may be passed in to share one load between runs."""
    run = TrainingRun(config, data)
    reporter.start_run(run.result, run.updates_per_epoch)
    for _ in range(config.epochs):
        run.run_epoch(reporter)
    return run
