"""The training loop: one loop for all three rules.

A rule only fixes how many samples make one update (N, b or 1). The epoch is planned
once as a list of chunks (training.plan); the loop hands each chunk's data
to the engine, which accumulates its weighted gradient and applies the update after
an update's last chunk, and writes the chunk's loss into the run's loss ledger
(engines.ledger). Sync points are explicit: the ledger's epoch loss is read once per
epoch (which also ends the timed region), and at most a hundred times an epoch at
the reporter's refreshes (training.epoch_policy), never per step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import mnist_rules
from mnist_rules.config.resolve import RunModes, refuse, settle
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.data import mnist as data_mod
from mnist_rules.data import stream as streaming
from mnist_rules.data.mnist import MnistData
from mnist_rules.device import describe, resolve_device
from mnist_rules.engines.ledger import LossLedger
from mnist_rules.engines.registry import create_engine
from mnist_rules.errors import Diverged, Interrupted, UsageError
from mnist_rules.model import build_mlp
from mnist_rules.training import checkpoint as ckpt
from mnist_rules.training import distributed, evaluations, stops
from mnist_rules.training.checkpoint import Checkpointer
from mnist_rules.training.epoch_policy import EpochPolicy, TrainingClock
from mnist_rules.training.interrupts import STOP
from mnist_rules.training.memory import PeakMemory
from mnist_rules.training.plan import plan_epoch
from mnist_rules.training.reporter import SILENT, Reporter
from mnist_rules.training.results import EpochResult, Evaluation, RunResult
from mnist_rules.training.run_data import data_for
from mnist_rules.world import SINGLE, World

# Called with each evaluation as it is made; a reason ("target", "pruned") ends the run
# there, None trains on. Under torchrun every process must answer the same.
OnEvaluation = Callable[[Evaluation], str | None]


@dataclass
class EpochProgress:
    """Where an unfinished epoch stands: enough to finish it as if it had not stopped."""

    order: torch.Tensor  # the epoch's sample order
    samples: int  # positions order[:samples] are trained
    updates: int
    seconds: float  # its training time so far
    losses: dict[str, Any]  # the loss ledger's state (LossLedger.state)


class TrainingRun:
    """One configured run: its engine, epoch plan, loss ledger and shuffling RNG, set
    up once; then epochs, one at a time. `train` drives it; benchmarks time its
    `train_epoch`."""

    def __init__(self, config: TrainConfig, data: MnistData | None = None, world: World = SINGLE):
        self.config, self.world = config, world
        rule = config.rule_entry
        joined = None  # under torchrun: this process's device, once it has joined the job
        if world.distributed:  # joined before the data is read: the main process reads first
            refuse(config, world)
            if rule.samples == 1:
                distributed.check_rule(rule, 1, world)
            joined = distributed.start(world, resolve_device(config.device))
        data = data_for(config, world, data)
        self.streamed = isinstance(data.train, data_mod.StreamedTrainSet)
        n = data.train_size
        if rule.takes_batch_size and config.batch_size is not None and config.batch_size > n:
            raise UsageError(
                f"--batch-size {config.batch_size} is larger than the training set ({n}"
                " images). Use a smaller batch, or the epoch rule for one update per epoch."
            )
        samples_per_update = rule.samples_per_update(n, config.batch_size)
        if world.distributed:
            distributed.check_rule(rule, samples_per_update, world)
        # What will actually run, settled once (config.resolve): the engine is built
        # from it, and the results report it.
        self.modes: RunModes = settle(
            config,
            samples_per_update=samples_per_update,
            streamed=self.streamed,
            world=world,
            joined=joined,
        )
        device = self.modes.device
        self.engine = create_engine(
            config.engine,
            build_mlp(config.seed),
            data,
            device,
            config.lr,
            self.modes.step_mode,
            transfer=self.modes.transfer,
            pinned=self.modes.pinned,
            world=world,
            stream=self._block_stream(data, device, config),
        )
        self.engine.compile_seconds += self.modes.compile_seconds
        # Under torchrun, this process's share of each update: `_positions` picks it
        # out of the epoch's global order, and the plan walks it (distributed.py).
        self._positions: torch.Tensor | None = None
        if world.distributed:
            self._positions = distributed.local_positions(n, samples_per_update, world)
            self.chunks = distributed.local_plan(n, samples_per_update, config.chunk_size, world)
        else:
            self.chunks = plan_epoch(n, samples_per_update, config.chunk_size)
        # The epoch's losses: every update's, kept always (one device write per chunk),
        # so that they also locate a divergence.
        self.ledger = LossLedger(self.chunks, device)
        self.engine.plan(self.chunks, self.ledger)
        self.updates_per_epoch = rule.updates_per_epoch(n, config.batch_size)
        evaluations.check(config.evals_per_epoch, self.updates_per_epoch, f"the {rule.name} rule")
        self.samples_per_update = samples_per_update
        self.on_evaluation: OnEvaluation | None = None  # set by train()
        self.order_rng = torch.Generator().manual_seed(config.seed)
        self._data = data
        self._data_sha256: str | None = None
        self._resume: EpochProgress | None = None  # set by resume_at, mid-epoch
        self.unfinished: EpochProgress | None = None  # where an interrupted epoch stopped
        self.stopped_mid_epoch = False  # under torchrun, which checkpoints only at epoch ends
        # One tensor per finished epoch: the loss of each update, when asked for.
        self.update_losses: list[torch.Tensor] = []
        self.result = RunResult(
            rule=config.rule,
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
            step_mode=self.modes.step_mode.value,
            compile_seconds=self.engine.compile_seconds,
            world_size=world.size,
            data_mode=self.modes.data_mode.value,
            evals_per_epoch=config.evals_per_epoch,
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
        return distributed.any_process(stop) if self.world.distributed else stop

    def _block_stream(self, data, device: torch.device, config: TrainConfig):
        """Stream mode's reader of the mapped training images (None when resident)."""
        if not self.streamed:
            return None
        return streaming.BlockStream(
            data.train.mapped, data.train_size, config.stream_block, config.stream_buffers, device
        )

    def next_order(self) -> torch.Tensor:
        """The epoch's sample order: a fresh permutation, or dataset order."""
        n = self.result.train_size
        if not self.config.shuffle:
            return torch.arange(n)
        if self.streamed:  # blocks in a random order, each shuffled within (data/stream.py)
            return streaming.block_shuffled_order(n, self.config.stream_block, self.order_rng)
        return torch.randperm(n, generator=self.order_rng)

    def train_epoch(
        self, reporter: Reporter = SILENT, checkpoint: Checkpointer | None = None
    ) -> tuple[float, float, int]:
        """One epoch of updates: (mean train loss, seconds, updates); a resumed epoch
        goes on from where it stopped. The evaluations due before the epoch's end
        (--evals-per-epoch) are made off the clock; one that on_evaluation answers with
        a reason ends the epoch there (`stopped_early`). Raises Diverged at the first
        refresh (or the epoch's end) whose running loss is NaN or infinite, naming the
        update where it first was; Interrupted after the update in progress when a
        signal asked (at the next update the engine can resume from bit for bit)."""
        engine, ledger, chunks = self.engine, self.ledger, self.chunks
        resumed, self._resume = self._resume, None
        if resumed is None:
            order, first, updates, before = self._my_order(), 0, 0, 0.0
            ledger.start_epoch()
        else:
            order, updates, before = resumed.order, resumed.updates, resumed.seconds
            first = next(i for i, c in enumerate(chunks) if c.start == resumed.samples)
            ledger.start_epoch(resumed.losses)
        every = checkpoint.every if checkpoint is not None else None
        single = not self.world.distributed
        policy = EpochPolicy(chunks, engine.can_stop_at, every, updates, single, first)
        todo = chunks[first:]
        clock = TrainingClock(engine, before)
        due = [m for m in evaluations.marks(self.updates_per_epoch, self.config.evals_per_epoch)
               if m > updates]  # fmt: skip
        try:
            engine.start_epoch(order, todo)
            batches = engine.batches(order, todo)  # data only
            for i, (batch, chunk) in enumerate(zip(batches, todo, strict=True), first):
                engine.step(batch, chunk)
                updates += chunk.last
                # An evaluation waits for a point the engine can stop at, as a refresh does;
                # before a checkpoint or a stop there, which then keep it. The epoch's end
                # has its own (run_epoch).
                if (
                    due and updates >= due[0] and chunk.last and not policy.ends_epoch(i)
                    and engine.can_stop_at(chunk.stop)
                ):  # fmt: skip
                    due = [m for m in due if m > updates]
                    engine.sync_model()  # on the clock: training work the engine held back
                    evaluations.wait_for_device(engine.device)
                    with clock.paused() as seconds:
                        evaluations.record(self, updates, seconds)
                    if self.result.stopped_early is not None:
                        break
                if policy.may_stop_after(chunk):
                    if STOP.signal is not None:  # Ctrl-C or SIGTERM: stop here
                        engine.end_epoch()  # the engine applies what it held back
                        self.unfinished = self._progress(order, chunk, updates, clock.seconds())
                        raise self._interrupted(updates)
                    if policy.save_due(updates):
                        with clock.paused() as seconds:
                            engine.sync_model()
                            at = self._progress(order, chunk, updates, seconds)
                            checkpoint.save(ckpt.state_dict(self, at))
                        policy.saved(updates)
                if policy.refresh_due(i, chunk):
                    self._refresh(reporter, chunk, updates, policy.ends_epoch(i))
        finally:
            engine.end_epoch()  # also on an error: the model holds every step taken
        train_loss = ledger.epoch_loss()  # the epoch's last sync ends the timed region
        seconds = clock.seconds()
        self.result.compile_seconds = engine.compile_seconds
        if self.world.distributed:  # the mean over every process's samples
            train_loss = distributed.mean_loss(train_loss, chunks[-1].stop)
        if not self._weights_finite():  # the epoch's last update broke them
            raise self._diverged(math.nan, update=self.updates_per_epoch, what="weights")
        if self.config.record_update_losses:
            self.update_losses.append(ledger.update_losses())
        return train_loss, seconds, updates

    def _refresh(self, reporter: Reporter, chunk, updates: int, epoch_end: bool) -> None:
        """Show the running loss (a sync); stop if it diverged, or, under torchrun, if a
        signal reached any process (all of them stop after this update)."""
        loss = self.ledger.running_loss()
        samples, stop = chunk.stop, STOP.signal is not None
        if self.world.distributed:  # every process decides the same, on all data
            loss, samples, stop = distributed.refresh(loss, samples, stop)
        if not math.isfinite(loss):
            raise self._diverged(loss)
        reporter.advance(samples, updates, lambda loss=loss: loss)
        if self.world.distributed and stop and not epoch_end:
            self.stopped_mid_epoch = True  # no checkpoint here: epoch ends only
            raise self._interrupted(updates)

    def _progress(self, order, chunk, updates: int, seconds: float) -> EpochProgress:
        return EpochProgress(order, chunk.stop, updates, seconds, self.ledger.state())

    # -- checkpoints (training.checkpoint builds and reads them) ----------------------

    def data_sha256(self) -> str:
        """A hash of the training images and labels in use (once: about 0.1 s)."""
        if self._data_sha256 is None:
            self._data_sha256 = ckpt.data_sha256(self._data)
        return self._data_sha256

    def resume_at(self, order, samples: int, updates: int, seconds: float, losses) -> None:
        """Finish the epoch a checkpoint stopped in first, as if it had not stopped."""
        self._resume = EpochProgress(order, samples, updates, seconds, losses)

    def _weights_finite(self) -> bool:
        params = list(self.engine.model.parameters())
        return bool(torch.stack([p.detach().isfinite().all() for p in params]).all())

    def _interrupted(self, update: int | None) -> Interrupted:
        return stops.interrupted(self.result, self.updates_per_epoch, update)

    def _diverged(self, loss: float, update: int | None = None, what: str = "loss") -> Diverged:
        if update is None:
            first = self.ledger.first_nonfinite_update()
            if self.world.distributed:  # the first over all processes' updates
                first = distributed.first_update(first)
            update = (first if first is not None else 0) + 1
        return stops.diverged(self.result, self.updates_per_epoch, loss, update, what)

    def run_epoch(
        self, reporter: Reporter = SILENT, checkpoint: Checkpointer | None = None
    ) -> EpochResult:
        """Train one epoch (or the rest of a resumed one), evaluate, and record it. An
        epoch that on_evaluation ended early is recorded as far as it went."""
        epoch = len(self.result.epochs) + 1
        reporter.start_epoch(epoch, self.result.train_size, self.updates_per_epoch)
        train_loss, train_seconds, updates = self.train_epoch(reporter, checkpoint)
        eval_start = time.perf_counter()
        if self.result.stopped_early is None:  # the epoch's last evaluation, at its end
            evaluations.record(self, updates, train_seconds)
        test_acc = self.result.evaluations[-1].test_acc
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
    on_evaluation: OnEvaluation | None = None,
) -> TrainingRun:
    """Train from `config`; `data` may be passed in to share one load between runs.
    `checkpoint`: save one after every epoch (and every `every` updates), and when a
    signal stops the run. `resume`: a checkpoint (checkpoint.read) to go on from.
    `world`: this process's place in a torchrun job; give `checkpoint` to the main
    process only. `on_evaluation`: asked after each evaluation whether to stop there
    (OnEvaluation; compare's and sweep's grids stop a trial at its target)."""
    # Under torchrun the process's GPU is known once the run has joined the job.
    memory = PeakMemory(None if world.distributed else resolve_device(config.device))
    run = TrainingRun(config, data, world)
    run.on_evaluation = on_evaluation
    memory.start_device(run.engine.device)
    try:
        _train_epochs(run, config, reporter, checkpoint, resume, resume_path)
    finally:
        run.result.peak_memory_bytes = memory.growth(run.engine.device)  # also when stopped
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
        ckpt.load_state_dict(run, resume, resume_path)
    reporter.start_run(run.result, run.updates_per_epoch)
    try:
        while len(run.result.epochs) < config.epochs and run.result.stopped_early is None:
            run.run_epoch(reporter, checkpoint)
            if checkpoint is not None:
                checkpoint.save(ckpt.state_dict(run))
            if len(run.result.epochs) < config.epochs and run.stop_requested():
                raise run._interrupted(None)  # it came during the epoch's last update
    except Interrupted as stopped:
        if checkpoint is not None and run.stopped_mid_epoch:  # torchrun: not resumable
            stopped.args = (f"{stopped} {stops.epoch_end_checkpoint_note(checkpoint)}",)
        elif checkpoint is not None:
            checkpoint.save(ckpt.state_dict(run, run.unfinished))
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
