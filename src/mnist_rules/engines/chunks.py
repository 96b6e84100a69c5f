"""The unit of work the loop hands an engine: a chunk of an update (the epoch's plan is
training.plan's). No torch here."""

from __future__ import annotations

from dataclasses import dataclass


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
