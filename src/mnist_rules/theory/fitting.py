"""The one way this package fits a law to measured points: two positive parameters,
least squares on the logarithms (scipy.optimize.curve_fit), because the points span
decades and their errors are relative, and each parameter's 95% interval from the fit's
covariance and Student's t over the points left after the fit."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
# The bounds of a parameter's logarithm: a fit that ends on one has not found a value.
LOG_BOUNDS = (math.log(1e-12), math.log(1e12))


@dataclass(frozen=True)
class Parameter:
    value: float
    low: float | None  # its 95% interval; None where the points cannot give one
    high: float | None  # (as many points as parameters: the fit goes through them)
    at_bound: bool  # the fit ran into LOG_BOUNDS: the points do not pin it down

    def to_dict(self, name: str) -> dict:
        interval = None if self.low is None else [self.low, self.high]
        return {name: self.value, f"{name}_interval": interval, f"{name}_at_bound": self.at_bound}


def fit_log(
    law: Callable[[np.ndarray, float, float], np.ndarray],
    x: Sequence[float],
    y: Sequence[float],
    guess: tuple[float, float],
    at_least: Sequence[tuple[float, float]] = (),
) -> tuple[Parameter, Parameter]:
    """Fit y ≈ law(x, p, q) with p, q > 0, minimising the squared differences of log y.
    At least two points; `guess`: starting values of p and q. `at_least`: censored
    points (x, y_min), where y is only known to exceed y_min (a size that trained y_min
    updates without reaching the target): each adds log y_min - log law(x) to the
    residuals where the law falls below it, nothing where it does not."""
    from scipy.optimize import OptimizeWarning, curve_fit
    from scipy.stats import t as student_t

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) < 2:
        raise ValueError("a two-parameter fit needs at least two points")
    floor_x = np.asarray([b for b, _ in at_least], dtype=float)
    floor_y = np.log(np.asarray([m for _, m in at_least], dtype=float))

    def log_law(values, log_p, log_q):
        return np.log(law(values, math.exp(log_p), math.exp(log_q)))

    def fitted(_, log_p, log_q):  # the points, then the floors (at most their bound)
        floors = np.minimum(log_law(floor_x, log_p, log_q), floor_y)
        return np.concatenate([log_law(xs, log_p, log_q), floors])

    low, high = LOG_BOUNDS
    start = [min(max(math.log(g), low + 1), high - 1) for g in guess]
    target = np.concatenate([np.log(ys), floor_y])
    index = np.arange(len(target), dtype=float)
    with warnings.catch_warnings():  # two points: no covariance, and no interval is given
        warnings.simplefilter("ignore", OptimizeWarning)
        theta, cov = curve_fit(fitted, index, target, p0=start, bounds=([low] * 2, [high] * 2),
                               absolute_sigma=True)  # fmt: skip
    # A floor the fit had to be held up by counts as a point; one it clears does not.
    held = int(np.sum(log_law(floor_x, *theta) < floor_y + 1e-6)) if len(floor_x) else 0
    dof = len(xs) + held - 2
    # The covariance scaled by the residuals' variance over those points alone (curve_fit's
    # own scaling would count the cleared floors, each a zero residual, as points).
    cov = cov * (float(np.sum((target - fitted(index, *theta)) ** 2)) / dof if dof > 0 else 1.0)
    spread = student_t.ppf(0.5 + CONFIDENCE / 2, dof) if dof > 0 else math.inf
    params = []
    for i, log_value in enumerate(float(v) for v in theta):
        sigma = math.sqrt(cov[i, i]) if np.isfinite(cov[i, i]) and cov[i, i] >= 0 else math.inf
        edge = bool(min(log_value - low, high - log_value) < 1e-3)
        if dof > 0 and math.isfinite(sigma) and not edge:  # ends past the bounds: at them
            ends = max(log_value - spread * sigma, low), min(log_value + spread * sigma, high)
            bounds = math.exp(ends[0]), math.exp(ends[1])
        else:
            bounds = None, None
        params.append(Parameter(math.exp(log_value), *bounds, at_bound=edge))
    return params[0], params[1]
