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
from mnist_rules.report.speed_model import SpeedModel
from mnist_rules.report.theory_plot import predicted_times, steps_panel

# What the error bars span: a size's seeds that reached the target (report.replicates).
INTERVALS = f"bootstrap 95% from 5 seeds, else min{DASH}max"


# Each engine's line on the time panel (one engine: black, as before engines were swept).
ENGINE_COLOURS = ("black", "tab:brown", "tab:olive")
ENGINE_STYLES = ("-", "--", ":")


def sweep_figure(comparison: Comparison, model: SpeedModel | None = None) -> Figure:
    """Two panels, three with the `model`: its steps-to-target panel, and its predicted
    times on the first. With several seeds a size's point is the median over them, its
    interval an error bar, and its curve the median with a min-max band. With several
    engines, a line per engine; a size keeps its colour across them."""
    engines = comparison.engines
    summaries = sorted(
        comparison.summaries().values(),
        key=lambda s: (engines.index(s.runs[0].engine), s.runs[0].batch_size),
    )
    target = comparison.target_acc
    fig = Figure(figsize=(13 if model is None else 19, 5), layout="constrained")
    axes = fig.subplots(1, 2 if model is None else 3)
    cost_ax, time_ax = axes[0], axes[-1]
    sizes = sorted({s.runs[0].batch_size for s in summaries})
    colours = {size: f"C{i}" for i, size in enumerate(sizes)}
    engine_colours = {e: ENGINE_COLOURS[i % len(ENGINE_COLOURS)] for i, e in enumerate(engines)}

    # Left: the curve itself, per engine.
    for engine in engines:
        mine = [s for s in summaries if s.runs[0].engine == engine]
        _cost_curve(cost_ax, comparison, mine, engine_colours[engine],
                    engine if len(engines) > 1 else None, colours)  # fmt: skip
    if model is not None:
        predicted_times(cost_ax, model, engine_colours)
        steps_panel(axes[1], model)
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
    for summary in summaries:
        run = summary.runs[0]
        colour = colours[run.batch_size]
        style = ENGINE_STYLES[engines.index(run.engine) % len(ENGINE_STYLES)]
        engine = f"{run.engine}: " if len(engines) > 1 else ""
        name = f"{engine}{_name(run)} per update (lr {run.lr:g})"
        if summary.n == 1:
            seconds = np.cumsum([e.train_seconds for e in run.epochs])
            time_ax.plot(seconds, [e.test_acc for e in run.epochs], "o" + style, color=colour,
                         clip_on=False, label=name)  # fmt: skip
            continue
        xs, accs = time_series(summary.runs)
        all_accs += [acc for series in accs for acc in series]
        band(time_ax, xs, accs, colour, style, label=f"{name}; median of {summary.n} seeds")
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
    for ax in axes:
        ax.grid(True, alpha=0.3)
    first = summaries[0].runs[0]
    fig.suptitle(
        f"{first.dataset}, {first.train_size:,} training images: samples per update swept"
        f" ({' and '.join(engines)} engine{'s' if len(engines) > 1 else ''} on {first.device}:"
        f" {first.device_name}; {seeds_text(comparison)})"
    )
    return fig


def _cost_curve(ax, comparison, summaries, colour: str, engine: str | None, colours) -> None:
    """One engine's time to the target against size. A size that never reached the
    target is drawn at the seconds it trained for, as an open triangle: it would have
    needed more."""
    runs = [summary.runs[0] for summary in summaries]  # each size's first seed's
    whose = f"{engine}: " if engine else ""
    reached = [(run.batch_size, s.time) for run, s in zip(runs, summaries, strict=True) if s.time]
    if reached:
        median = " (median)" if comparison.replicated else ""
        ax.plot(*zip(*[(b, t.median) for b, t in reached], strict=True), "o-", color=colour,
                label=f"{whose}reached{median}")  # fmt: skip
    if comparison.replicated and reached:
        ax.errorbar(
            [b for b, _ in reached], [t.median for _, t in reached],
            yerr=[[t.median - t.low for _, t in reached], [t.high - t.median for _, t in reached]],
            fmt="none", ecolor=colour, capsize=4, label=f"{whose}interval ({INTERVALS})",
        )  # fmt: skip
    missed = [(r.batch_size, s.seconds_trained)
              for r, s in zip(runs, summaries, strict=True) if s.time is None]  # fmt: skip
    if missed:
        epochs = max(s.epochs for s in summaries)
        ax.plot(
            *zip(*missed, strict=True), "^", ms=10, mfc="none", mec="tab:red", mew=2,
            label=f"{whose}not reached in {epochs} epochs (seconds trained)",
        )  # fmt: skip
    for run, summary in zip(runs, summaries, strict=True):
        # Above the point, or above its error bar.
        seconds = summary.time.high if summary.time else summary.seconds_trained
        ax.annotate(
            _name(run),
            (run.batch_size, seconds), xytext=(0, 9), textcoords="offset points",
            ha="center", fontsize=8, color=colours[run.batch_size],
        )  # fmt: skip


def _name(run) -> str:
    """A size as the figure labels it: "all", or its samples per update (1,000)."""
    return "all" if whole_set(run) else f"{run.batch_size:,}"
