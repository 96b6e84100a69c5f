"""What a run that stops early says: interrupted by a signal, or diverged, and where
its checkpoint is. One message each, so that both engines (and torchrun) say the same."""

from __future__ import annotations

import math

from mnist_rules.errors import Diverged, Interrupted
from mnist_rules.training.checkpoint import Checkpointer
from mnist_rules.training.interrupts import STOP
from mnist_rules.training.results import RunResult


def finished_note(result: RunResult) -> str:
    finished = len(result.epochs)
    return f" {finished} epoch{'' if finished == 1 else 's'} had finished." if finished else ""


def interrupted(result: RunResult, updates_per_epoch: int, update: int | None) -> Interrupted:
    """Stopped by a signal after `update` of the epoch under way (None: between epochs)."""
    epoch = len(result.epochs) + 1
    where = (
        f"at epoch {epoch}, update {update:,} of {updates_per_epoch:,}: training"
        " stopped after that update."
        if update is not None
        else f"after epoch {epoch - 1}: training stopped between epochs."
    )
    return Interrupted(f"Interrupted ({STOP.name}) {where}" + finished_note(result), result=result)


def diverged(
    result: RunResult, updates_per_epoch: int, loss: float, update: int, what: str = "loss"
) -> Diverged:
    """The loss (or the weights) became NaN or infinite at `update` (counted from 1)."""
    epoch = len(result.epochs) + 1
    value = "NaN" if math.isnan(loss) else "infinite"
    if what == "weights":
        value = "NaN or infinite"
    lr = result.lr
    return Diverged(
        f"Training diverged: the {result.rule} rule's {what} became {value} at epoch"
        f" {epoch}, update {update:,} of {updates_per_epoch:,} (lr {lr:g}). Try a"
        f" lower learning rate, such as --lr {lr / 10:g}." + finished_note(result),
        result=result,
    )


def epoch_end_checkpoint_note(checkpoint: Checkpointer) -> str:
    if checkpoint.last is None:
        return "Under torchrun, checkpoints are written at epoch ends; none had finished."
    return (
        f"Under torchrun, checkpoints are written at epoch ends: the last, {checkpoint.last},"
        f" is in {checkpoint.path}; to go on from it, run the same command with --resume"
        f" {checkpoint.path}."
    )
