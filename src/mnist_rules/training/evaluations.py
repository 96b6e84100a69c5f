"""When an epoch is evaluated: --evals-per-epoch K readings of the test accuracy at
evenly spaced update boundaries, the last at the epoch's end.

A reading is off the clock (training.epoch_policy.TrainingClock.paused) and changes
nothing: it waits for a point where the engine can stop and resume bit for bit (a
per-sample block's end, as a refresh does), so the weights after an epoch are the
same whatever K (tested).
"""

from __future__ import annotations

import math

import torch

from mnist_rules.errors import UsageError
from mnist_rules.training import distributed
from mnist_rules.training.results import Evaluation, RunResult


def marks(updates_per_epoch: int, evals_per_epoch: int) -> list[int]:
    """The update counts, within an epoch, after which the K - 1 readings before the
    epoch's end are due: ceil(j * U / K) for j = 1 .. K - 1."""
    k, u = evals_per_epoch, updates_per_epoch
    return [math.ceil(j * u / k) for j in range(1, k)]


def check(evals_per_epoch: int, updates_per_epoch: int, what: str) -> None:
    """K readings need K update boundaries in an epoch: more is refused, naming `what`
    (the rule or size) and its updates."""
    if evals_per_epoch > updates_per_epoch:
        per = "update" if updates_per_epoch == 1 else "updates"
        raise UsageError(
            f"--evals-per-epoch {evals_per_epoch} is more evaluations than {what} makes"
            f" updates in an epoch ({updates_per_epoch:,} {per}): the test accuracy is read"
            f" between updates. Give at most {updates_per_epoch:,}."
        )


def reading(
    result: RunResult, updates: int, seconds: float, samples_per_update: int, test_acc: float
) -> Evaluation:
    """The evaluation after `updates` and `seconds` of training in the epoch under way
    (the finished epochs are `result.epochs`), counted from the run's start."""
    done, n = result.epochs, result.train_size
    return Evaluation(
        epoch=len(done) + 1,
        updates=sum(e.updates for e in done) + updates,
        samples=len(done) * n + min(updates * samples_per_update, n),
        train_seconds=sum(e.train_seconds for e in done) + seconds,
        test_acc=test_acc,
    )


def wait_for_device(device: torch.device) -> None:
    """A sync point before a reading: the device's queued steps finish on the training
    clock, not in the reading's pause."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def record(run, updates: int, seconds: float) -> None:
    """Read the test accuracy of `run` (a training.loop.TrainingRun) after `updates` of
    the epoch under way and `seconds` of its training; keep the reading, and ask the
    run's on_evaluation whether to go on (its answer is `stopped_early`)."""
    engine, world = run.engine, run.world
    if not world.distributed:
        test_acc = engine.evaluate()
    else:  # once, not once per process: the weights are the same everywhere
        test_acc = engine.evaluate() if world.is_main else math.nan
        test_acc = distributed.broadcast_from_main(test_acc)
    point = reading(run.result, updates, seconds, run.samples_per_update, test_acc)
    run.result.evaluations.append(point)
    if run.on_evaluation is not None:
        run.result.stopped_early = run.on_evaluation(point)
