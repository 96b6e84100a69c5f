"""The noise scale's figure (matplotlib): B_simple, and the two quantities it is the
ratio of, against the epochs trained."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from mnist_rules.theory.noise_scale import NoiseReading
    from mnist_rules.training.results import RunResult


def noise_figure(readings: list[NoiseReading], run: RunResult, samples: int) -> Figure:
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    b_ax, parts_ax = fig.subplots(1, 2)
    epochs = [r.epoch for r in readings]
    measured = [(r.epoch, r.noise.b_simple) for r in readings if r.noise.b_simple is not None]
    if measured:
        b_ax.plot(*zip(*measured, strict=True), "o-", color="black", label="B_simple")
    b_ax.set(title="Gradient noise scale B_simple = tr(Σ) / |G|²", xlabel="epochs trained",
             ylabel="samples (log)", yscale="log")  # fmt: skip
    parts_ax.plot(epochs, [r.noise.trace_sigma for r in readings], "s-", label="tr(Σ)")
    parts_ax.plot(epochs, [max(r.noise.g2, 1e-12) for r in readings], "o-", label="|G|²")
    parts_ax.set(title="Its parts: the per-sample noise and the true gradient",
                 xlabel="epochs trained", ylabel="squared norm (log)", yscale="log")  # fmt: skip
    for ax in (b_ax, parts_ax):
        ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{run.dataset}: {run.rule} rule, {run.batch_size:,} per update, lr {run.lr:g},"
        f" seed {run.seed}; measured over {samples:,} training images"
    )
    return fig
