"""The model's fits (theory/): S(B) and t(B) recovered from points made by the laws
themselves, their intervals, the regimes, and the best size their product predicts."""

import math

import numpy as np
import pytest

from mnist_rules.theory.cost_fit import fit_cost
from mnist_rules.theory.prediction import best_size, time_to_target
from mnist_rules.theory.steps_fit import (
    DIMINISHING,
    MAXIMAL,
    PERFECT,
    fit_steps,
    regime,
    steps_law,
)

pytestmark = pytest.mark.quick

SIZES = [1, 10, 100, 1000, 10000]


def test_the_steps_law_is_recovered_exactly():
    steps = [steps_law(b, 300.0, 150.0) for b in SIZES]
    fit = fit_steps(SIZES, steps)
    assert fit.s_min.value == pytest.approx(300.0, rel=1e-6)
    assert fit.b_crit.value == pytest.approx(150.0, rel=1e-6)
    assert fit.worst_miss()[1] == pytest.approx(1.0, abs=1e-6)


def test_noisy_steps_give_intervals_around_the_truth():
    """Each point off by a few percent either way: the 95% intervals hold the truth,
    and are wider than a hair."""
    wobble = [1.05, 0.96, 1.04, 0.97, 1.03]
    steps = [steps_law(b, 300.0, 150.0) * w for b, w in zip(SIZES, wobble, strict=True)]
    fit = fit_steps(SIZES, steps)
    for param, truth in ((fit.s_min, 300.0), (fit.b_crit, 150.0)):
        assert param.low < truth < param.high
        assert param.high / param.low > 1.01
        assert not param.at_bound


def test_two_points_are_fitted_exactly_without_an_interval():
    fit = fit_steps([10, 1000], [steps_law(10, 50.0, 40.0), steps_law(1000, 50.0, 40.0)])
    assert fit.b_crit.value == pytest.approx(40.0, rel=1e-5)
    assert fit.b_crit.low is None and fit.s_min.high is None
    assert fit.to_dict()["b_crit_interval"] is None


def test_points_all_in_perfect_scaling_leave_b_crit_loose():
    """Steps exactly ∝ 1/B: any B_crit far above the sizes fits, so the fit cannot
    bound it from above (its interval is unbounded or it runs into the bounds)."""
    fit = fit_steps([1, 10, 100], [20000.0 * 1.01, 2000.0 * 0.99, 200.0])
    loose = fit.b_crit.at_bound or fit.b_crit.high is None or fit.b_crit.high > 1e4
    assert loose and fit.b_crit.value > 100


def test_each_size_is_labelled_by_its_regime():
    assert regime(1, 100) == PERFECT
    assert regime(100, 100) == DIMINISHING
    assert regime(34, 100) == DIMINISHING and regime(33, 100) == PERFECT
    assert regime(300, 100) == MAXIMAL
    fit = fit_steps(SIZES, [steps_law(b, 300.0, 150.0) for b in SIZES])
    regimes = [p["regime"] for p in fit.to_dict()["points"]]
    assert regimes == [PERFECT, PERFECT, DIMINISHING, MAXIMAL, MAXIMAL]


def test_the_cost_law_is_recovered():
    seconds = [20e-6 + 1e-6 * b for b in SIZES]
    fit = fit_cost(SIZES, seconds)
    assert fit.t0.value == pytest.approx(20e-6, rel=1e-6)
    assert fit.c.value == pytest.approx(1e-6, rel=1e-6)
    assert fit.to_dict()["points"][0]["fitted"] == pytest.approx(21e-6)


def test_the_predicted_best_size_minimises_the_predicted_time():
    steps = fit_steps(SIZES, [steps_law(b, 300.0, 150.0) for b in SIZES])
    cost = fit_cost(SIZES, [20e-6 + 1e-6 * b for b in SIZES])
    best = best_size(steps, cost)
    assert best == pytest.approx(math.sqrt(150.0 * 20e-6 / 1e-6), rel=1e-5)
    grid = np.geomspace(1, 10000, 20001)
    numeric = grid[np.argmin([time_to_target(steps, cost, b) for b in grid])]
    assert numeric == pytest.approx(best, rel=1e-3)


def test_a_larger_fixed_cost_moves_the_best_size_up_by_its_square_root():
    steps = fit_steps(SIZES, [steps_law(b, 300.0, 150.0) for b in SIZES])
    cheap = fit_cost(SIZES, [20e-6 + 1e-6 * b for b in SIZES])
    dear = fit_cost(SIZES, [2000e-6 + 1e-6 * b for b in SIZES])
    assert best_size(steps, dear) / best_size(steps, cheap) == pytest.approx(10.0, rel=1e-4)


def test_a_fit_needs_two_points():
    with pytest.raises(ValueError):
        fit_steps([10], [100.0])


def test_sizes_that_missed_the_target_hold_the_fit_above_the_updates_they_trained():
    """Two sizes that reached it ten-fold apart in steps fit perfect scaling alone (any
    B_crit far above them); a size of 100 that trained 1,200 updates without reaching it
    says otherwise, and the fit is held above it."""
    free = fit_steps([1, 10], [60000.0, 6000.0])
    held = fit_steps([1, 10], [60000.0, 6000.0], at_least=[(100, 1200.0), (1000, 120.0)])
    assert free.b_crit.value > 1e4 and free.steps_at(100) < 700
    assert held.steps_at(100) >= 1200 * 0.95 and held.b_crit.value < 1000
    assert held.short_of() == []
    assert held.b_crit.low is not None  # the floor it leans on counts as a point


def test_a_floor_the_fit_clears_changes_nothing():
    sizes, steps = [1, 10, 100], [60000.0, 4800.0, 840.0]
    free = fit_steps(sizes, steps)
    floored = fit_steps(sizes, steps, at_least=[(1000, 240.0), (60000, 4.0)])
    assert floored.b_crit == free.b_crit and floored.s_min == free.s_min


def test_a_floor_the_law_cannot_clear_is_named():
    """Steps falling ten-fold per decade up to 100, and 1,000 not there after 5,000
    updates: no S(B) of this form goes through both."""
    fit = fit_steps([1, 10, 100], [100000.0, 10000.0, 1000.0], at_least=[(1000, 5000.0)])
    assert fit.short_of() == [(1000, 5000.0)]
