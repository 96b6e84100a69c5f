"""The sweep's figure (matplotlib): training seconds to the target against samples per
update, and test accuracy against training time, one curve per update size (with
several seeds: medians, error bars and bands)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from mnist_rules.report.comparison import Comparison, whole_set
from mnist_rules.report.plots import accuracy_axis, band, readable_log_axis, seeds_text, time_series
from mnist_rules.report.replicate_text import DASH

# What the error bars span: a size's seeds that reached the target (report.replicates).
INTERVALS = f"bootstrap 95% from 5 seeds, else min{DASH}max"


def sweep_figure(comparison: Comparison) -> Figure:
    """Two panels; with several seeds a size's point is the median over them, its
    interval an error bar, and its curve the median with a min-max band."""
    summaries = sorted(comparison.summaries().values(), key=lambda s: s.runs[0].batch_size)
    runs = [summary.runs[0] for summary in summaries]  # each size's first seed's
    target = comparison.target_acc
    fig = Figure(figsize=(13, 5), layout="constrained")
    cost_ax, time_ax = fig.subplots(1, 2)
    colours = [f"C{i}" for i in range(len(runs))]

    # Left: the curve itself. A size that never reached the target is drawn at the
    # seconds it trained for, as an open triangle: it would have needed more.
    sizes = [run.batch_size for run in runs]
    reached = [(run.batch_size, s.time) for run, s in zip(runs, summaries, strict=True) if s.time]
    if reached:
        cost_ax.plot(*zip(*[(b, t.median) for b, t in reached], strict=True), "o-",
                     color="black", label="reached" + (" (median)" if comparison.replicated
                                                       else ""))  # fmt: skip
    if comparison.replicated and reached:
        cost_ax.errorbar(
            [b for b, _ in reached], [t.median for _, t in reached],
            yerr=[[t.median - t.low for _, t in reached], [t.high - t.median for _, t in reached]],
            fmt="none", ecolor="black", capsize=4, label=f"interval ({INTERVALS})",
        )  # fmt: skip
    missed = [(r.batch_size, s.seconds_trained)
              for r, s in zip(runs, summaries, strict=True) if s.time is None]  # fmt: skip
    if missed:
        epochs = max(s.epochs for s in summaries)
        cost_ax.plot(
            *zip(*missed, strict=True), "^", ms=10, mfc="none", mec="tab:red", mew=2,
            label=f"not reached in {epochs} epochs (seconds trained)",
        )  # fmt: skip
    for run, summary, colour in zip(runs, summaries, colours, strict=True):
        # Above the point, or above its error bar.
        seconds = summary.time.high if summary.time else summary.seconds_trained
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
    all_accs = [e.test_acc for r in comparison.runs for e in r.epochs] + [target]
    for summary, run, colour in zip(summaries, runs, colours, strict=True):
        name = f"{_name(run)} per update (lr {run.lr:g})"
        if summary.n == 1:
            seconds = np.cumsum([e.train_seconds for e in run.epochs])
            time_ax.plot(seconds, [e.test_acc for e in run.epochs], "o-", color=colour,
                         clip_on=False, label=name)  # fmt: skip
            continue
        xs, accs = time_series(summary.runs)
        all_accs += [acc for series in accs for acc in series]
        band(time_ax, xs, accs, colour, "-", label=f"{name}; median of {summary.n} seeds")
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
        f" ({first.engine} engine on {first.device}: {first.device_name};"
        f" {seeds_text(comparison)})"
    )
    return fig


def _name(run) -> str:
    """A size as the figure labels it: "all", or its samples per update (1,000)."""
    return "all" if whole_set(run) else f"{run.batch_size:,}"
