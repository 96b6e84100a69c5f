"""Steps to a target against samples per update B: S(B) = S_min · (1 + B_crit / B)
(McCandlish et al. 2018, eq. 2.11). Far below B_crit, doubling B halves the steps
(perfect scaling: the samples to the target stay the same); far above, more samples per
update buy nothing (S_min: maximal data parallelism); around it, diminishing returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mnist_rules.theory.fitting import Parameter, fit_log

# A size within this factor of B_crit is in diminishing returns; below B_crit / 3 its
# steps are within 4/3 of perfect scaling's, above 3·B_crit within 4/3 of S_min.
REGIME_FACTOR = 3.0
# A size that trained U updates without reaching the target contradicts the fit where the
# fit says fewer than U·(1 - SHORT_BY) sufficed; within that, it is the fit's compromise.
SHORT_BY = 0.1
PERFECT, DIMINISHING, MAXIMAL = "perfect scaling", "diminishing returns", "maximal data parallelism"


def steps_law(size, s_min: float, b_crit: float):
    return s_min * (1 + b_crit / size)


def regime(size: float, b_crit: float) -> str:
    if size <= b_crit / REGIME_FACTOR:
        return PERFECT
    if size >= b_crit * REGIME_FACTOR:
        return MAXIMAL
    return DIMINISHING


@dataclass(frozen=True)
class StepsFit:
    s_min: Parameter
    b_crit: Parameter
    sizes: list[int]  # the points fitted: samples per update, and steps to the target
    steps: list[float]
    at_least: list[tuple[int, float]] = field(default_factory=list)  # (size, updates) short of it

    def leans_on(self) -> list[tuple[int, float]]:
        """The floors the fit rests on (within 1% of them, or below): they bound B_crit
        from above, as the reached sizes in perfect scaling bound it from below."""
        return [(b, u) for b, u in self.at_least if self.steps_at(b) < u * 1.01]

    def short_of(self) -> list[tuple[int, float]]:
        """The sizes that did not reach the target whose updates trained the fit still
        says were enough, by more than SHORT_BY: where the law is contradicted (the fit,
        held up by them, gave way to the reached points' pull)."""
        return [(b, u) for b, u in self.at_least if self.steps_at(b) < u * (1 - SHORT_BY)]

    def steps_at(self, size: float) -> float:
        return steps_law(size, self.s_min.value, self.b_crit.value)

    def worst_miss(self) -> tuple[int, float]:
        """The point the law misses most, and by what factor (measured / fitted, ≥ 1
        either way round)."""
        misses = [(max(s / self.steps_at(b), self.steps_at(b) / s), b)
                  for b, s in zip(self.sizes, self.steps, strict=True)]  # fmt: skip
        factor, size = max(misses)
        return size, factor

    def to_dict(self) -> dict:
        points = [
            {
                "size": b,
                "steps": s,
                "fitted": self.steps_at(b),
                "regime": regime(b, self.b_crit.value),
            }
            for b, s in zip(self.sizes, self.steps, strict=True)
        ]
        return {**self.s_min.to_dict("s_min"), **self.b_crit.to_dict("b_crit"), "points": points}


def fit_steps(
    sizes: Sequence[int], steps: Sequence[float], at_least: Sequence[tuple[int, float]] = ()
) -> StepsFit:
    """S_min and B_crit from two or more (size, steps to the target) points, and the
    sizes that did not reach the target with the updates they trained (`at_least`: their
    steps are more than that, and the fit is held above them)."""
    guess = (min(steps), math.sqrt(min(sizes) * max(sizes)))
    s_min, b_crit = fit_log(steps_law, sizes, steps, guess, at_least)
    return StepsFit(s_min, b_crit, list(sizes), list(steps), list(at_least))
