"""The training loop: one loop for all three rules.

A rule only fixes how many samples make one update (N, b or 1). The epoch is planned
once as a list of chunks (mnist_rules.rules.plan_epoch); the loop hands each chunk's
data to the engine, which accumulates its weighted gradient and applies the update
after an update's last chunk. Sync points are explicit: the engine's epoch loss is
read once per epoch (which also ends the timed region), and a reporter may read the
running loss at its refreshes, never per step.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

import mnist_rules
from mnist_rules import checkpoint as ckpt
from mnist_rules import data as data_mod
from mnist_rules import distributed
from mnist_rules import stream as streaming
from mnist_rules.checkpoint import Checkpointer
from mnist_rules.data import DatasetName, MnistData
from mnist_rules.device import DeviceChoice, describe, resolve_device
from mnist_rules.distributed import SINGLE, World
from mnist_rules.engines import (
    STREAM_BLOCK,
    STREAM_BUFFERS,
    DataMode,
    EngineName,
    StepMode,
    Transfer,
    create_engine,
    resolve_step_mode,
)
from mnist_rules.errors import Diverged, Interrupted, UsageError
from mnist_rules.interrupts import STOP
from mnist_rules.model import LAYER_SIZES, build_mlp
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
    # How the tuned engine runs its steps (engines.StepMode): auto picks the fastest
    # measured for the device and rule; one that cannot run here falls back to eager
    # with a one-line warning (engines.resolve_step_mode).
    step_mode: StepMode = StepMode.auto
    # Where the training images live: read whole (resident), or memory-mapped and
    # streamed a block at a time (stream, either engine; stream.py).
    data_mode: DataMode = DataMode.auto
    # Stream mode's samples per block (the batch rule shuffles blocks of this size,
    # and within them) and host buffers in its ring (stream.py).
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


@dataclass
class EpochProgress:
    """Where an unfinished epoch stands: enough to finish it as if it had not stopped."""

    order: torch.Tensor  # the epoch's sample order
    samples: int  # positions order[:samples] are trained
    updates: int
    seconds: float  # its training time so far
    engine: dict[str, Any]  # the engine's loss bookkeeping (Engine.epoch_progress)


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


class TrainingRun:
    """One configured run: its engine, epoch plan and shuffling RNG, set up once; then
    epochs, one at a time. `train` drives it; benchmarks time its `train_epoch`."""

    def __init__(self, config: TrainConfig, data: MnistData | None = None, world: World = SINGLE):
        self.config, self.world = config, world
        device = resolve_device(config.device)
        if world.distributed:
            if config.rule is RuleName.sample:
                distributed.check_rule(config.rule, 1, world)
            if config.step_mode.captures:
                raise UsageError(
                    f"--step-mode {config.step_mode.value} is not supported under torchrun"
                    " yet: a step's all-reduce would have to be captured with it. Use"
                    " --step-mode eager or auto."
                )
            device = distributed.start(world, device)
        mode = config.data_mode
        if data is None:
            root = data_mod.resolve_data_dir(config.data_dir)
            mode = resolve_data_mode(mode, config.dataset, root, config.step_mode, world)
            if world.distributed and not world.is_main:
                distributed.barrier()  # the main process loads (downloads) first
            stream = mode is DataMode.stream
            data = data_mod.load(config.dataset, root, config.train_subset, stream=stream)
            if world.distributed and world.is_main:
                distributed.barrier()
        elif config.train_subset is not None:
            data = data.with_train_size(config.train_subset)
        self._streamed = isinstance(data.train, data_mod.StreamedTrainSet)
        if mode is DataMode.stream and not self._streamed:
            raise ValueError("stream mode needs data.load(..., stream=True)")
        rule = RULES[config.rule]
        n = data.train_size
        batch_size = config.batch_size or min(DEFAULT_BATCH_SIZE, n)
        if config.rule is RuleName.batch and batch_size > n:
            raise UsageError(
                f"--batch-size {batch_size} is larger than the training set ({n} images)."
                " Use a smaller batch, or the epoch rule for one update per epoch."
            )
        samples_per_update = rule.samples_per_update(n, batch_size)
        if world.distributed:
            distributed.check_rule(config.rule, samples_per_update, world)

        per_sample = samples_per_update == 1 and not world.distributed
        step_mode, why = resolve_step_mode(config.step_mode, config.engine, device.type, per_sample)
        if why is not None:
            warnings.warn(why, RuntimeWarning, stacklevel=2)
        self.engine = create_engine(
            config.engine,
            build_mlp(config.seed),
            data,
            device,
            config.lr,
            step_mode,
            transfer=config.transfer,
            pinned=config.pinned,
            world=world,
            stream=self._block_stream(data, device, config),
        )
        # Under torchrun, this process's share of each update: `_positions` picks it
        # out of the epoch's global order, and the plan walks it (distributed.py).
        self._positions: torch.Tensor | None = None
        if world.distributed:
            self._positions = distributed.local_positions(n, samples_per_update, world)
            self.chunks = distributed.local_plan(n, samples_per_update, config.chunk_size, world)
        else:
            self.chunks = plan_epoch(n, samples_per_update, config.chunk_size)
        self.engine.plan(self.chunks)
        self.updates_per_epoch = rule.updates_per_epoch(n, batch_size)
        self._order_rng = torch.Generator().manual_seed(config.seed)
        self._data = data
        self._data_sha256: str | None = None
        self._resume: EpochProgress | None = None  # set by load_state_dict, mid-epoch
        self.unfinished: EpochProgress | None = None  # where an interrupted epoch stopped
        self.stopped_mid_epoch = False  # under torchrun, which checkpoints only at epoch ends
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
            torch_version=str(torch.__version__),  # a str subclass: plain for weights-only loading
            mnist_rules_version=mnist_rules.__version__,
            threads=self.engine.threads,
            step_mode=self.engine.step_mode.value,
            compile_seconds=self.engine.compile_seconds,
            world_size=world.size,
            data_mode="stream" if self._streamed else "resident",
        )

    def _my_order(self) -> torch.Tensor:
        """The epoch's order as this process trains it: all of it, or under torchrun
        its share of each update (every process draws the same global order)."""
        order = self.next_order()
        return order if self._positions is None else order[self._positions]

    def stop_requested(self) -> bool:
        """Whether a signal asked to stop: under torchrun, whether one reached any
        process (a collective: every process must ask at the same point)."""
        stop = STOP.signal is not None
        if self.world.distributed:
            stop = distributed.all_reduce([float(stop)], "max")[0] > 0
        return stop

    def _block_stream(self, data, device: torch.device, config: TrainConfig):
        """Stream mode's reader of the mapped training images (None when resident)."""
        if not self._streamed:
            return None
        return streaming.BlockStream(
            data.train.mapped, data.train_size, config.stream_block, config.stream_buffers, device
        )

    def next_order(self) -> torch.Tensor:
        """The epoch's sample order: a fresh permutation, or dataset order."""
        n = self.result.train_size
        if not self.config.shuffle:
            return torch.arange(n)
        if self._streamed:  # blocks in a random order, each shuffled within (stream.py)
            return streaming.block_shuffled_order(n, self.config.stream_block, self._order_rng)
        return torch.randperm(n, generator=self._order_rng)

    def train_epoch(
        self, reporter: Reporter = SILENT, checkpoint: Checkpointer | None = None
    ) -> tuple[float, float, int]:
        """One epoch of updates, no evaluation: (mean train loss, seconds, updates); a
        resumed epoch goes on from where it stopped. Raises Diverged at the first
        refresh (or the epoch's end) whose running loss is NaN or infinite, naming the
        update where it first was; Interrupted after the update in progress when a
        signal asked (at the next update the engine can resume from bit for bit)."""
        engine, chunks, world = self.engine, self.chunks, self.world
        n = chunks[-1].stop  # positions this process trains: all, or its share (torchrun)
        resumed, self._resume = self._resume, None
        if resumed is None:
            order, first, updates, before, progress = self._my_order(), 0, 0, 0.0, None
        else:
            order, updates, before = resumed.order, resumed.updates, resumed.seconds
            first = next(i for i, c in enumerate(chunks) if c.start == resumed.samples)
            progress = resumed.engine
        every = checkpoint.every if checkpoint is not None and not world.distributed else None
        # Due at every multiple of `every` updates (at the next point the engine can
        # stop at, if not there): a fixed grid, also for a resumed epoch.
        next_save = (updates // every + 1) * every if every else None
        refresh_every = math.ceil(len(chunks) / REFRESHES_PER_EPOCH)
        paused = 0.0  # time spent writing checkpoints: not training
        compiling = engine.compile_seconds  # nor compiling steps (captured units)

        def trained_until(now: float) -> float:
            return before + now - start - paused - (engine.compile_seconds - compiling)

        start = time.perf_counter()
        todo = chunks[first:]
        batches = engine.batches(order, todo, progress)
        try:
            for i, (batch, chunk) in enumerate(zip(batches, todo, strict=True), first):
                engine.step(batch, chunk)
                updates += chunk.last
                stoppable = chunk.last and chunk.stop < n and not world.distributed
                if stoppable and engine.can_stop_at(chunk.stop):
                    if STOP.signal is not None:  # Ctrl-C or SIGTERM: stop here
                        _close(batches)  # the engine applies what it held back
                        seconds = trained_until(time.perf_counter())
                        self.unfinished = EpochProgress(
                            order, chunk.stop, updates, seconds, engine.epoch_progress()
                        )
                        raise self._interrupted(updates)
                    if next_save is not None and updates >= next_save:
                        saving = time.perf_counter()
                        engine.sync_model()
                        seconds = trained_until(saving)
                        at = EpochProgress(
                            order, chunk.stop, updates, seconds, engine.epoch_progress()
                        )
                        checkpoint.save(self.state_dict(at))
                        next_save = (updates // every + 1) * every
                        paused += time.perf_counter() - saving
                if (i + 1) % refresh_every == 0 or i + 1 == len(chunks):
                    loss = engine.running_loss()  # a sync, a hundred times an epoch at most
                    samples, stop = chunk.stop, STOP.signal is not None
                    if world.distributed:  # every process decides the same, on all data
                        total, count, asked = distributed.all_reduce(
                            [loss * samples, samples, float(stop)]
                        )
                        loss, samples, stop = total / count, int(count), asked > 0
                    if not math.isfinite(loss):
                        raise self._diverged(loss)
                    reporter.advance(samples, updates, lambda loss=loss: loss)
                    if world.distributed and stop and i + 1 < len(chunks):
                        self.stopped_mid_epoch = True  # no checkpoint here: epoch ends only
                        raise self._interrupted(updates)  # all processes, after this update
        finally:
            _close(batches)  # also on an error: the model holds every step taken
        train_loss = engine.take_epoch_loss()  # the epoch's last sync ends the timed region
        seconds = trained_until(time.perf_counter())
        self.result.compile_seconds = engine.compile_seconds
        if world.distributed:  # the mean over every process's samples
            total, count = distributed.all_reduce([train_loss * n, n])
            train_loss = total / count
        if not self._weights_finite():  # the epoch's last update broke them
            raise self._diverged(math.nan, update=self.updates_per_epoch, what="weights")
        update_losses = engine.take_update_losses()
        if self.config.record_update_losses:
            self.update_losses.append(update_losses)
        return train_loss, seconds, updates

    # -- checkpoints ---------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must share with this run to be resumed by it."""
        r = self.result
        return {
            "rule": r.rule,
            "model": "-".join(map(str, LAYER_SIZES)),
            "dataset": r.dataset,
            "train_size": r.train_size,
            "data_sha256": self.data_sha256(),
            "engine": r.engine,
            "lr": r.lr,
            "batch_size": r.batch_size,
            "shuffle": r.shuffle,
            # The batch rule's shuffle: a full permutation (0), or blocks of this size.
            "shuffle_block": self.config.stream_block if self._streamed and r.shuffle else 0,
            "seed": r.seed,
        }

    def data_sha256(self) -> str:
        """A hash of the training images and labels in use (once: about 0.1 s)."""
        if self._data_sha256 is None:
            n, digest = self._data.train_size, hashlib.sha256()
            images = self._data.train_images
            mapped = getattr(self._data.train, "mapped", None)  # stream mode's file
            for lo in range(0, n, STREAM_BLOCK):  # the same digest as at once
                hi = min(lo + STREAM_BLOCK, n)
                digest.update(images[lo:hi].contiguous().numpy().data)
                if mapped is not None:  # read, then out of memory again
                    mapped.release(lo, hi)
            digest.update(self._data.train.targets[:n].contiguous().numpy().data)
            self._data_sha256 = digest.hexdigest()
        return self._data_sha256

    def state_dict(self, progress: EpochProgress | None = None) -> dict[str, Any]:
        """The checkpoint: after the finished epochs, or mid-epoch at `progress` (the
        engine's model already synchronised). Tensors and plain values only."""
        return {
            "format": ckpt.FORMAT,
            "version": ckpt.VERSION,
            "identity": self.identity(),
            "model": self.engine.weights(),
            "sgd": self.engine.sgd_state(),
            "rng": {"order": self._order_rng.get_state(), "torch": torch.get_rng_state()},
            "position": {
                "epochs": len(self.result.epochs),
                "samples": progress.samples if progress else 0,
                "updates": progress.updates if progress else 0,
                "seconds": progress.seconds if progress else 0.0,
            },
            "order": progress.order.cpu().clone() if progress else None,
            "engine_progress": progress.engine if progress else None,
            "result": self.result.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], source: Path | str = "checkpoint") -> None:
        """Continue from a checkpoint (read by checkpoint.read): refused unless it is
        from the same run (rule, model, data, settings)."""
        ckpt.check_identity(source, state["identity"], self.identity())
        theirs = StepMode(state["result"].get("step_mode", "eager")).value
        if theirs != self.result.step_mode:  # the same math, summed in another order
            warnings.warn(
                f"--resume {source}: the checkpoint's steps ran in {theirs} mode, this"
                f" run's in {self.result.step_mode} mode: it goes on with the same math,"
                f" but not bit for bit (give --step-mode {theirs} for that).",
                RuntimeWarning,
                stacklevel=2,
            )
        position = state["position"]
        finished, mid_epoch = position["epochs"], position["samples"] > 0
        if self.config.epochs < finished + mid_epoch:
            raise UsageError(
                f"--resume {source}: the checkpoint has {finished} finished epochs"
                + (" and one under way" if mid_epoch else "")
                + f"; --epochs {self.config.epochs} asks for fewer. Give --epochs"
                f" {finished + mid_epoch} or more."
            )
        samples = position["samples"]
        if mid_epoch and self.world.distributed:
            raise UsageError(
                f"--resume {source}: the checkpoint stopped in the middle of an epoch, and"
                " under torchrun each process trains a share of the epoch instead; resume"
                " it in one process (without torchrun) to the end of that epoch first."
            )
        boundaries = {c.stop for c in self.chunks if c.last}
        if mid_epoch and not (samples in boundaries and self.engine.can_stop_at(samples)):
            raise UsageError(
                f"--resume {source}: the checkpoint stopped at sample {samples:,} of its"
                " epoch, which is not a point this engine can resume from; resume it with"
                " the mnist-rules that wrote it."
            )
        self.engine.model.load_state_dict(state["model"])
        self.engine.load_sgd_state(state["sgd"])
        self._order_rng.set_state(state["rng"]["order"])
        torch.set_rng_state(state["rng"]["torch"])
        self.result.epochs = [EpochResult(**e) for e in state["result"]["epochs"]]
        if mid_epoch:
            self._resume = EpochProgress(
                state["order"],
                position["samples"],
                position["updates"],
                position["seconds"],
                state["engine_progress"],
            )

    def _weights_finite(self) -> bool:
        params = list(self.engine.model.parameters())
        return bool(torch.stack([p.detach().isfinite().all() for p in params]).all())

    def _finished_note(self) -> str:
        finished = len(self.result.epochs)
        return f" {finished} epoch{'' if finished == 1 else 's'} had finished." if finished else ""

    def _interrupted(self, update: int | None) -> Interrupted:
        epoch = len(self.result.epochs) + 1
        where = (
            f"at epoch {epoch}, update {update:,} of {self.updates_per_epoch:,}: training"
            " stopped after that update."
            if update is not None
            else f"after epoch {epoch - 1}: training stopped between epochs."
        )
        return Interrupted(
            f"Interrupted ({STOP.name}) {where}" + self._finished_note(), result=self.result
        )

    def _diverged(self, loss: float, update: int | None = None, what: str = "loss") -> Diverged:
        epoch = len(self.result.epochs) + 1
        if update is None:
            first = self.engine.first_nonfinite_update()
            if self.world.distributed:  # the first over all processes' updates
                found = distributed.all_reduce([math.inf if first is None else first], "min")
                first = None if math.isinf(found[0]) else int(found[0])
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

    def run_epoch(
        self, reporter: Reporter = SILENT, checkpoint: Checkpointer | None = None
    ) -> EpochResult:
        """Train one epoch (or the rest of a resumed one), evaluate, and record it."""
        epoch = len(self.result.epochs) + 1
        reporter.start_epoch(epoch, self.result.train_size, self.updates_per_epoch)
        train_loss, train_seconds, updates = self.train_epoch(reporter, checkpoint)
        eval_start = time.perf_counter()
        if not self.world.distributed:
            test_acc = self.engine.evaluate()
        else:  # once, not once per process: the weights are the same everywhere
            test_acc = self.engine.evaluate() if self.world.is_main else math.nan
            test_acc = distributed.broadcast_from_main(test_acc)
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
    checkpoint: Checkpointer | None = None,
    resume: dict[str, Any] | None = None,
    resume_path: Path | str = "checkpoint",
    world: World = SINGLE,
) -> TrainingRun:
    """Train from `config`; `data` may be passed in to share one load between runs.
    `checkpoint`: save one after every epoch (and every `every` updates), and when a
    signal stops the run. `resume`: a checkpoint (checkpoint.read) to go on from.
    `world`: this process's place in a torchrun job; give `checkpoint` to the main
    process only."""
    run = TrainingRun(config, data, world)
    try:
        _train_epochs(run, config, reporter, checkpoint, resume, resume_path)
    finally:
        run.engine.close()
        if world.distributed:
            distributed.stop()
    return run


def _train_epochs(
    run: TrainingRun,
    config: TrainConfig,
    reporter: Reporter,
    checkpoint: Checkpointer | None,
    resume: dict[str, Any] | None,
    resume_path: Path | str,
) -> None:
    if resume is not None:
        run.load_state_dict(resume, resume_path)
    reporter.start_run(run.result, run.updates_per_epoch)
    try:
        while len(run.result.epochs) < config.epochs:
            run.run_epoch(reporter, checkpoint)
            if checkpoint is not None:
                checkpoint.save(run.state_dict())
            if len(run.result.epochs) < config.epochs and run.stop_requested():
                raise run._interrupted(None)  # it came during the epoch's last update
    except Interrupted as stopped:
        if checkpoint is not None and run.stopped_mid_epoch:  # torchrun: not resumable
            stopped.args = (f"{stopped} {_epoch_end_checkpoint_note(checkpoint)}",)
        elif checkpoint is not None:
            checkpoint.save(run.state_dict(run.unfinished))
            stopped.args = (
                f"{stopped} The checkpoint is in {checkpoint.path}: to go on, run the same"
                f" command with --resume {checkpoint.path}.",
            )
        raise
    except Diverged as stopped:  # the checkpoint on disk is from before: say which
        if checkpoint is not None and checkpoint.last is not None:
            stopped.args = (
                f"{stopped} The last checkpoint, {checkpoint.last}, is in {checkpoint.path}.",
            )
        raise


def _epoch_end_checkpoint_note(checkpoint: Checkpointer) -> str:
    if checkpoint.last is None:
        return "Under torchrun, checkpoints are written at epoch ends; none had finished."
    return (
        f"Under torchrun, checkpoints are written at epoch ends: the last, {checkpoint.last},"
        f" is in {checkpoint.path}; to go on from it, run the same command with --resume"
        f" {checkpoint.path}."
    )


def _close(batches: Any) -> None:
    """Close an engine's batch generator now (its cleanup runs), not when collected."""
    close = getattr(batches, "close", None)
    if close is not None:
        close()
