"""The three update rules, as data.

A rule is nothing but how many samples make one update: N (epoch), b (batch) or 1
(sample). Everything else (the loop, the engines) is shared, so this module only says
how an epoch splits into updates, and how each update splits into chunks small enough
to keep memory independent of N. No torch here: the CLI imports it for --help.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class RuleName(str, Enum):
    epoch = "epoch"
    batch = "batch"
    sample = "sample"


@dataclass(frozen=True)
class Rule:
    name: RuleName
    default_lr: float
    shuffle_by_default: bool
    summary: str

    def samples_per_update(self, train_size: int, batch_size: int) -> int:
        if self.name is RuleName.epoch:
            return train_size
        if self.name is RuleName.batch:
            return min(batch_size, train_size)
        return 1

    def updates_per_epoch(self, train_size: int, batch_size: int) -> int:
        return math.ceil(train_size / self.samples_per_update(train_size, batch_size))


# The reference setup: lr 0.1 / 0.1 / 0.01, mini-batches of 100 reshuffled every epoch,
# per-sample updates in dataset order.
RULES: dict[RuleName, Rule] = {
    RuleName.epoch: Rule(RuleName.epoch, 0.1, False, "one update per epoch from the mean loss"),
    RuleName.batch: Rule(RuleName.batch, 0.1, True, "one update per mini-batch"),
    RuleName.sample: Rule(RuleName.sample, 0.01, False, "one update per image"),
}
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of positions [start, stop) in the epoch's sample order, processed in one
    forward/backward pass. `weight` is its share of the update's mean loss, so that the
    weighted chunk gradients add up to the gradient of the mean over the whole update;
    `last` says the update is applied after this chunk."""

    start: int
    stop: int
    weight: float
    last: bool

    @property
    def size(self) -> int:
        return self.stop - self.start


def plan_epoch(train_size: int, samples_per_update: int, max_chunk: int) -> list[Chunk]:
    """Split one epoch into updates of `samples_per_update` samples (the last may be
    smaller), and each update into chunks of at most `max_chunk` samples."""
    if train_size < 1 or samples_per_update < 1 or max_chunk < 1:
        raise ValueError("train_size, samples_per_update and max_chunk must be positive")
    chunks = []
    for update_start in range(0, train_size, samples_per_update):
        update_stop = min(update_start + samples_per_update, train_size)
        update_size = update_stop - update_start
        for start in range(update_start, update_stop, max_chunk):
            stop = min(start + max_chunk, update_stop)
            chunks.append(Chunk(start, stop, (stop - start) / update_size, stop == update_stop))
    return chunks
