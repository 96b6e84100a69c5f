"""The model's marks on the sweep's figure (report.speed_model): steps to the target
against samples per update on log-log axes, with the perfect-scaling line and the fitted
S(B) (Shallue et al. 2019, figure 1; McCandlish et al. 2018), and on the time panel
each engine's predicted T(B) = S(B)·t(B) with its B*."""

from __future__ import annotations

import statistics

import numpy as np
from matplotlib.axes import Axes

from mnist_rules.report.replicate_text import DASH
from mnist_rules.report.speed_model import SpeedModel
from mnist_rules.theory.prediction import time_to_target


def curve_sizes(sizes: list[int]) -> np.ndarray:
    """Where a fitted curve is drawn: across the sizes swept, a little beyond."""
    return np.geomspace(min(sizes) / 1.5, max(sizes) * 1.5, 200)


def steps_panel(ax: Axes, model: SpeedModel) -> None:
    """Each size's steps to the target (median, min-max over its seeds), the fit, the
    perfect-scaling line through the smallest size, and B_crit."""
    steps_by_size = model.steps_measured
    sizes = sorted(steps_by_size)
    if sizes:
        # min-max, as labelled (replicates.spread turns to a bootstrap at 5 seeds).
        medians = [statistics.median(steps_by_size[b]) for b in sizes]
        ax.errorbar(
            sizes, medians,
            yerr=[[m - min(steps_by_size[b]) for b, m in zip(sizes, medians, strict=True)],
                  [max(steps_by_size[b]) - m for b, m in zip(sizes, medians, strict=True)]],
            fmt="o", color="black", capsize=4, label=f"measured (median, min{DASH}max)",
        )  # fmt: skip
        xs = curve_sizes(sizes)
        ax.plot(xs, medians[0] * sizes[0] / xs, ":", color="grey",
                label="perfect scaling (steps ∝ 1/B)")  # fmt: skip
    fit = model.steps
    missed = model.not_reached
    if missed:  # a lower bound on their steps: the fit should lie above
        ax.plot(list(missed), list(missed.values()), "^", ms=9, mfc="none", mec="tab:red",
                mew=2, label="not reached: updates trained (median)")  # fmt: skip
    if fit is not None:
        xs = curve_sizes(fit.sizes + list(missed))
        ax.plot(xs, [fit.steps_at(b) for b in xs], "-", color="tab:blue",
                label="S(B) = S_min(1 + B_crit/B)")  # fmt: skip
        ax.axhline(fit.s_min.value, color="tab:blue", lw=0.8, ls="--",
                   label=f"S_min = {fit.s_min.value:,.0f}")  # fmt: skip
        ax.axvline(fit.b_crit.value, color="tab:purple", lw=1, ls="--",
                   label=f"B_crit = {fit.b_crit.value:,.0f}")  # fmt: skip
    noise = model.noise_scale
    start = None if not noise else noise["points"][0]["b_simple"]
    if start is not None:
        ax.axvline(start, color="tab:green", lw=1, ls="-.",
                   label=f"B_simple at the start = {start:,.0f}")  # fmt: skip
    ax.set(title="Steps to the target against samples per update",
           xlabel="samples per update B (log)", ylabel="updates to the target (log)",
           xscale="log", yscale="log")  # fmt: skip
    ax.legend(loc="best", fontsize=8)


def predicted_times(ax: Axes, model: SpeedModel, colours: dict[str, str]) -> None:
    """Each engine's T(B) = S(B)·t(B) as a dashed curve, its B* as a star on it."""
    if model.steps is None:
        return
    for name, engine in model.engines.items():
        if engine.cost is None:
            continue
        xs = curve_sizes(model.steps.sizes + sorted(engine.measured))
        colour = colours.get(name, "tab:orange")
        ax.plot(xs, [time_to_target(model.steps, engine.cost, b) for b in xs], "--",
                color=colour, lw=1.2, label=f"{name}: predicted S(B)·(t₀ + c·B)")  # fmt: skip
        best = engine.predicted_best(model.steps)
        ax.plot([best], [time_to_target(model.steps, engine.cost, best)], "*", ms=14,
                color=colour, label=f"{name}: predicted best B* = {best:,.0f}")  # fmt: skip
