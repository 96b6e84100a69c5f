"""The sweep's figure (matplotlib): training seconds to the target against samples per
update, and test accuracy against training time, one curve per update size."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from mnist_rules.report.comparison import Comparison, time_to_target, whole_set
from mnist_rules.report.plots import accuracy_axis, readable_log_axis


def sweep_figure(comparison: Comparison) -> Figure:
    runs = sorted(comparison.runs, key=lambda run: run.batch_size)
    target = comparison.target_acc
    fig = Figure(figsize=(13, 5), layout="constrained")
    cost_ax, time_ax = fig.subplots(1, 2)
    colours = [f"C{i}" for i in range(len(runs))]

    # Left: the curve itself. A size that never reached the target is drawn at the
    # seconds it trained for, as an open triangle: it would have needed more.
    hits = [time_to_target(run, target) for run in runs]
    sizes = [run.batch_size for run in runs]
    reached = [(s, h.seconds) for s, h in zip(sizes, hits, strict=True) if h is not None]
    if reached:
        cost_ax.plot(*zip(*reached, strict=True), "o-", color="black", label="reached")
    missed = [
        (r.batch_size, r.total_train_seconds) for r, h in zip(runs, hits, strict=True) if h is None
    ]
    if missed:
        cost_ax.plot(
            *zip(*missed, strict=True), "^", ms=10, mfc="none", mec="tab:red", mew=2,
            label=f"not reached in {max(len(r.epochs) for r in runs)} epochs (seconds trained)",
        )  # fmt: skip
    for run, hit, colour in zip(runs, hits, colours, strict=True):
        seconds = hit.seconds if hit is not None else run.total_train_seconds
        cost_ax.annotate(
            _name(run),
            (run.batch_size, seconds), xytext=(0, 9), textcoords="offset points",
            ha="center", fontsize=8, color=colour,
        )  # fmt: skip
    cost_ax.set(
        title=f"Training seconds to {target:g}% test accuracy",
        xlabel="samples per update (log)",
        ylabel="cumulative training seconds (log; evaluation excluded)",
        xscale="log",
        yscale="log",
    )
    cost_ax.legend(loc="best", fontsize=8)

    # Right: how each size got there.
    all_accs = [e.test_acc for run in runs for e in run.epochs] + [target]
    for run, colour in zip(runs, colours, strict=True):
        seconds = np.cumsum([e.train_seconds for e in run.epochs])
        name = _name(run)
        time_ax.plot(
            seconds, [e.test_acc for e in run.epochs], "o-", color=colour, clip_on=False,
            label=f"{name} per update (lr {run.lr:g})",
        )  # fmt: skip
    time_ax.set(
        title="Test accuracy against training time",
        xlabel="cumulative training seconds (log; evaluation excluded)",
        xscale="log",
    )
    accuracy_axis(time_ax, all_accs, target)
    time_ax.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}%")
    time_ax.legend(loc="lower right", fontsize=8)
    for axis in (cost_ax.yaxis, time_ax.xaxis):
        readable_log_axis(axis)
    # The sizes swept are the ticks: a log axis's own 1-2-5 ticks crowd at 10^4 and up.
    cost_ax.xaxis.set_major_locator(FixedLocator(sizes))
    cost_ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    cost_ax.xaxis.set_minor_locator(NullLocator())
    cost_ax.margins(x=0.08, y=0.15)  # room for the labels above the points
    for ax in (cost_ax, time_ax):
        ax.grid(True, alpha=0.3)
    first = runs[0]
    fig.suptitle(
        f"{first.dataset}, {first.train_size:,} training images: samples per update swept"
        f" ({first.engine} engine on {first.device}: {first.device_name}; seed {first.seed})"
    )
    return fig


def _name(run) -> str:
    """A size as the figure labels it: "all", or its samples per update (1,000)."""
    return "all" if whole_set(run) else f"{run.batch_size:,}"
