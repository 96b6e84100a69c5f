"""The cost of one update on given hardware: t(B) = t₀ + c·B, with t₀ what every update
pays whatever its size (launches, dispatch, a transfer's latency, the update of every
weight) and c what each of its samples adds (McCandlish et al. 2018, section 2.3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mnist_rules.theory.fitting import Parameter, fit_log


def cost_law(size, t0: float, c: float):
    return t0 + c * size


@dataclass(frozen=True)
class CostFit:
    t0: Parameter  # seconds an update
    c: Parameter  # seconds a sample
    sizes: list[int]
    seconds: list[float]  # measured seconds per update at each size

    def seconds_at(self, size: float) -> float:
        return cost_law(size, self.t0.value, self.c.value)

    def to_dict(self) -> dict:
        points = [{"size": b, "seconds_per_update": s, "fitted": self.seconds_at(b)}
                  for b, s in zip(self.sizes, self.seconds, strict=True)]  # fmt: skip
        return {**self.t0.to_dict("t0"), **self.c.to_dict("c"), "points": points}


def fit_cost(sizes: Sequence[int], seconds: Sequence[float]) -> CostFit:
    """t₀ and c from two or more (size, seconds per update) points."""
    guess = (min(seconds), max(seconds) / max(sizes))
    t0, c = fit_log(cost_law, sizes, seconds, guess)
    return CostFit(t0, c, list(sizes), list(seconds))
