"""What S(B) and t(B) predict together: the time to the target T(B) = S(B) · t(B)
= S_min · (t₀ + c·B) · (1 + B_crit / B), lowest at B* = sqrt(B_crit · t₀ / c). A large t₀
(an update's fixed cost) pushes B* up; a cheap sample (small c) does too."""

from __future__ import annotations

import math

from mnist_rules.theory.cost_fit import CostFit
from mnist_rules.theory.steps_fit import StepsFit


def best_size(steps: StepsFit, cost: CostFit) -> float:
    return math.sqrt(steps.b_crit.value * cost.t0.value / cost.c.value)


def time_to_target(steps: StepsFit, cost: CostFit, size: float) -> float:
    return steps.steps_at(size) * cost.seconds_at(size)
