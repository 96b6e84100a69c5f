"""The comparison figure (matplotlib): train loss, test accuracy per epoch and per second
of training, and optionally the loss of every update.

Built on a bare `Figure` (no pyplot): no global state, no GUI backend, safe in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, LogLocator, NullFormatter, NullLocator

from mnist_rules.atomic import atomic_path
from mnist_rules.report.comparison import Comparison, overfit_peak, rule_colour, time_to_target
from mnist_rules.report.replicate_text import DASH
from mnist_rules.report.replicates import median_band

SMOOTH_FROM = 200  # updates per run from which the update-loss panel adds a running mean
ACC_TICKS = [10, 50, 80, 90, 95, 97, 98, 99, 99.5, 99.8, 100]
# The axis ends at 99.99%: a perfect score (tiny test sets) is drawn on its top edge.
_TOP_ERROR = 0.01


def _error_spaced(acc):
    """Accuracy to axis position: -log10(100 - acc). Spreads 95..99% as far apart as
    10..90%, so the close runs at the top stay apart while slow ones stay in view."""
    return -np.log10(np.clip(100.0 - np.asarray(acc, dtype=float), _TOP_ERROR, None))


def _from_error_spaced(y):
    return 100.0 - 10.0 ** (-np.asarray(y, dtype=float))


def accuracy_axis(ax, accs: Sequence[float], target: float) -> None:
    ax.set_yscale("function", functions=(_error_spaced, _from_error_spaced))
    lo, hi = _error_spaced(min(accs)), _error_spaced(max(accs))
    pad = 0.08 * max(hi - lo, 0.2)
    top = min(hi + pad, _error_spaced(100.0))
    ax.set_ylim(_from_error_spaced(lo - pad), _from_error_spaced(top))
    # The target gets a tick of its own, unless a standard tick sits almost on it.
    near = [t for t in ACC_TICKS if abs(_error_spaced(t) - _error_spaced(target)) < 0.06]
    ax.yaxis.set_major_locator(FixedLocator(sorted(ACC_TICKS + ([] if near else [target]))))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.set_ylabel("test accuracy (%), spaced by log(100 − acc)")  # noqa: RUF001 (typeset minus)


def readable_log_axis(axis) -> None:
    """Log ticks at 1, 2, 5 x 10^k, labelled as plain numbers (0.2, 50), for axes that
    span a few decades; the per-update panel spans many and keeps 10^k labels."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(lambda v, _: f"{v:g}")
    axis.set_minor_formatter(NullFormatter())


def comparison_figure(
    comparison: Comparison, update_losses: Mapping[str, Sequence[float]] | None = None
) -> Figure:
    """Three panels (four with per-update losses), one colour per rule."""
    panels = 3 if update_losses is None else 4
    fig = Figure(figsize=(16, 4.8) if panels == 3 else (13, 9.5), layout="constrained")
    axes = fig.subplots(1, 3) if panels == 3 else fig.subplots(2, 2).flatten()
    loss_ax, acc_ax, time_ax = axes[:3]
    target = comparison.target_acc
    all_accs = [e.test_acc for run in comparison.runs for e in run.epochs] + [target]

    # compare --engines: one line style per engine, the rule's colour for both.
    styles = dict(zip(comparison.engines, ("o-", "s--", "^:"), strict=False))
    several = len(styles) > 1
    for label in comparison.labels:
        runs = comparison.runs_of(label)
        if len(runs) == 1:
            _draw_run(runs[0], (loss_ax, acc_ax, time_ax), target, styles, several)
        else:
            _draw_seeds(comparison, label, (loss_ax, acc_ax, time_ax), styles, several)

    loss_ax.set(
        title="Training loss per epoch",
        xlabel="epoch",
        ylabel="mean train loss (cross-entropy, log)",
        yscale="log",
    )
    acc_ax.set(title="Test accuracy per epoch", xlabel="epoch")
    time_ax.set(
        title="Test accuracy against training time",
        xlabel="cumulative training seconds (log; evaluation excluded)",
        xscale="log",
    )
    readable_log_axis(loss_ax.yaxis)
    readable_log_axis(time_ax.xaxis)
    for ax in (acc_ax, time_ax):
        accuracy_axis(ax, all_accs, target)
        ax.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}%")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes:
        ax.grid(True, alpha=0.3)

    if update_losses is not None:
        _update_loss_panel(axes[3], comparison, update_losses)

    first = comparison.runs[0]
    fig.suptitle(
        f"{first.dataset}, {first.train_size:,} training images: the update rules compared"
        f" ({' and '.join(comparison.engines)} engine{'s' if several else ''} on"
        f" {first.device}: {first.device_name}; {seeds_text(comparison)})"
    )
    handles, labels = loss_ax.get_legend_handles_labels()
    target_handles, target_labels = acc_ax.get_legend_handles_labels()
    fig.legend(
        handles + target_handles,
        labels + target_labels,
        loc="outside lower center",
        ncol=4 if several else len(labels) + 1,  # two rows for two engines
    )
    return fig


def seeds_text(comparison: Comparison) -> str:
    """ "seed 0", or "seeds 0, 1, 2": the seeds the figure's runs trained from."""
    seeds = list(dict.fromkeys(run.seed for run in comparison.runs))
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"


def _draw_run(run, axes, target: float, styles: dict, several: bool) -> None:
    """One run's curves, its target reached and its overfitting peak marked."""
    loss_ax, acc_ax, time_ax = axes
    colour, style = rule_colour(run), styles.get(run.engine, "o-")
    epochs = [e.epoch for e in run.epochs]
    accs = [e.test_acc for e in run.epochs]
    seconds = np.cumsum([e.train_seconds for e in run.epochs])
    samples = f"{run.batch_size:,} sample{'' if run.batch_size == 1 else 's'}"
    label = f"{run.rule}: lr {run.lr:g}, {samples} per update"
    label = f"{run.engine} engine, {label}" if several else label
    loss_ax.plot(epochs, [e.train_loss for e in run.epochs], style, color=colour, label=label)
    acc_ax.plot(epochs, accs, style, color=colour, clip_on=False)
    time_ax.plot(seconds, accs, style, color=colour, clip_on=False)
    hit = time_to_target(run, target)
    if hit is not None:  # the answer compare exists for: when the target was reached
        i = epochs.index(hit.epoch)
        time_ax.plot(seconds[i], accs[i], "*", ms=16, color=colour, mec="black", zorder=5)
        time_ax.annotate(
            f"{target:g}% after {hit.seconds:.3g} s",
            (seconds[i], accs[i]),
            xytext=(6, -24),  # below the star, ending at it: clear of the axis edge
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=colour,
            bbox={"boxstyle": "round", "fc": "white", "ec": colour, "alpha": 0.9},
        )
    peak = overfit_peak(run)
    if peak is not None:
        i = epochs.index(peak)
        for ax, x in ((acc_ax, peak), (time_ax, seconds[i])):
            ax.plot(x, accs[i], "o", ms=14, mfc="none", mec=colour, mew=2)
            ax.annotate(
                "peak, then falls",
                (x, accs[i]),
                xytext=(0, 12),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color=colour,
            )


def _draw_seeds(comparison: Comparison, label: str, axes, styles: dict, several: bool) -> None:
    """A label's seeds: the median curve with a min-max band in each panel, and where
    the median time to the target falls, its interval as an error bar."""
    loss_ax, acc_ax, time_ax = axes
    runs = comparison.runs_of(label)
    first, summary = runs[0], comparison.summaries()[label]
    colour, style = rule_colour(first), styles.get(first.engine, "o-")
    samples = f"{first.batch_size:,} sample{'' if first.batch_size == 1 else 's'}"
    name = f"{first.rule}: lr {first.lr:g}, {samples} per update"
    name = f"{first.engine} engine, {name}" if several else name
    name += f"; median of {len(runs)} seeds, band min{DASH}max"
    losses = [[e.train_loss for e in run.epochs] for run in runs]
    accs = [[e.test_acc for e in run.epochs] for run in runs]
    band(loss_ax, None, losses, colour, style, label=name)
    band(acc_ax, None, accs, colour, style)
    seconds, accs_in_time = time_series(runs)
    band(time_ax, seconds, accs_in_time, colour, "-" if style == "o-" else style[1:])
    time = summary.time
    if time is None:
        return
    target = comparison.target_acc
    xerr = [[time.median - time.low], [time.high - time.median]]
    time_ax.errorbar(time.median, target, xerr=xerr, fmt="*", ms=16, color=colour,
                     mec="black", ecolor=colour, elinewidth=2, capsize=4, zorder=5)  # fmt: skip
    time_ax.annotate(
        f"{target:g}% after {time.median:.3g} s (median, {summary.k}/{summary.n} seeds)",
        (time.median, target),
        # below the star, or above it for every other label: labels close in time apart
        xytext=(6, 14 if comparison.labels.index(label) % 2 else -24),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        color=colour,
        bbox={"boxstyle": "round", "fc": "white", "ec": colour, "alpha": 0.9},
    )


def band(ax, xs, series, colour, style: str, label: str | None = None) -> None:
    """The median of `series` (aligned by index) as a line, the min-max as a shaded
    band; at x = 1, 2, ... (epochs) unless `xs` (one list per series: their median)."""
    medians, lows, highs = median_band(series)
    x = np.arange(1, len(medians) + 1) if xs is None else np.asarray(median_band(xs)[0])
    ax.fill_between(x, lows, highs, color=colour, alpha=0.2, lw=0)
    ax.plot(x, medians, style, color=colour, label=label, clip_on=False)


def time_series(runs) -> tuple[list[list[float]], list[list[float]]]:
    """Each run's test accuracy against its training seconds: at its evaluations
    (several an epoch, with --evals-per-epoch) where every run recorded them, else at
    its epochs' ends (cumulative)."""
    if all(run.evaluations for run in runs):
        return (
            [[e.train_seconds for e in run.evaluations] for run in runs],
            [[e.test_acc for e in run.evaluations] for run in runs],
        )
    return (
        [list(np.cumsum([e.train_seconds for e in run.epochs])) for run in runs],
        [[e.test_acc for e in run.epochs] for run in runs],
    )


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.insert(values, 0, 0.0))
    return (sums[window:] - sums[:-window]) / window


def _update_loss_panel(ax, comparison: Comparison, update_losses) -> None:
    runs = comparison.first_runs()  # the losses kept: the first seed's, by label
    series = [np.asarray(update_losses.get(comparison.label(run), []), dtype=float) for run in runs]
    for run, losses in zip(runs, series, strict=True):
        if len(losses) == 0:
            continue
        x = np.arange(1, len(losses) + 1)
        colour = rule_colour(run)
        # Runs with fewer updates are drawn on top of those with more.
        zorder = 3 + 2 * sum(len(other) > len(losses) for other in series)
        if len(losses) < SMOOTH_FROM:  # few updates (the epoch rule): every one, marked
            ax.plot(x, losses, "o-", color=colour, zorder=zorder + 1)
            continue
        # Every update, faint, so that the jitter shows; over it, a running mean over 1%
        # of the run, so that the levels can be compared.
        ax.plot(x, losses, "-", color=colour, lw=0.4, alpha=0.35, zorder=zorder)
        window = len(losses) // 100
        ax.plot(
            x[window - 1 :],
            _running_mean(losses, window),
            "-",
            color=colour,
            lw=2,
            zorder=zorder + 1,
        )
    everything = np.concatenate([s for s in series if len(s)])
    floor = np.percentile(everything[everything > 0], 1)
    ax.set_ylim(bottom=floor)  # the lowest 1% of losses (fitted samples) run off the axis
    ax.set(
        title="Loss of every update (faint) and its running mean over 1% of the run",
        xlabel="update number (log)",
        ylabel="mean loss over the update's samples (log)",
        xscale="log",
        yscale="log",
    )


def save_figure(fig: Figure, path: Path) -> None:
    """Write atomically, in the format named by the suffix, with the title and the
    panels' titles in the file's metadata (searchable, and checked by the tests)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    panels = "; ".join(ax.get_title() for ax in fig.axes)
    title = fig.get_suptitle()
    metadata = {"Title": title, "Subject" if fmt == "pdf" else "Description": panels}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=110, metadata=metadata)
