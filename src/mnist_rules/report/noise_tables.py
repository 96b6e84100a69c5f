"""What `noise-scale` prints: a row per point of the training, and one sentence on how
the noise scale moved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from mnist_rules.report.numbers import significant

if TYPE_CHECKING:
    from mnist_rules.theory.noise_scale import NoiseReading
    from mnist_rules.training.results import RunResult


def point_name(reading: NoiseReading) -> str:
    return "initial weights" if reading.epoch == 0 else f"after epoch {reading.epoch}"


def b_simple_text(reading: NoiseReading) -> str:
    value = reading.noise.b_simple
    return "— (|G|² ≤ 0)" if value is None else significant(value, 3)


def noise_table(readings: list[NoiseReading], run: RunResult, samples: int) -> Table:
    per = "sample" if run.batch_size == 1 else f"{run.batch_size:,} samples"
    table = Table(
        title=f"Gradient noise scale over {samples:,} training images ({run.rule} rule,"
        f" {per} per update, lr {run.lr:g}, seed {run.seed}, {run.engine} engine)",
        title_justify="left",
    )
    for header in ("point", "updates", "test acc %", "|G|²", "tr(Σ)", "B_simple"):
        table.add_column(header, justify="right")
    for reading in readings:
        acc = run.epochs[reading.epoch - 1].test_acc if reading.epoch else None
        table.add_row(
            point_name(reading),
            f"{reading.updates:,}",
            "—" if acc is None else f"{acc:.2f}",
            f"{reading.noise.g2:.4g}",
            f"{reading.noise.trace_sigma:.4g}",
            b_simple_text(reading),
        )
    return table


def noise_sentence(readings: list[NoiseReading]) -> str:
    """B_simple at the start, and how far it moved by the end."""
    first, last = readings[0], readings[-1]
    start = (
        f"B_simple = tr(Σ) / |G|² is {b_simple_text(first)} at the initial weights:"
        " updates of fewer samples than that are mostly noise, of many more mostly"
        " redundant (McCandlish et al. 2018; docs/theory.md)."
    )
    if last is first or first.noise.b_simple is None or last.noise.b_simple is None:
        return start
    ratio = last.noise.b_simple / first.noise.b_simple
    trace = _factor(last.noise.trace_sigma / first.noise.trace_sigma)
    g2 = _factor(last.noise.g2 / first.noise.g2)
    return (
        f"{start} It {'grew' if ratio >= 1 else 'fell'} to {b_simple_text(last)}"
        f" {point_name(last)} ({_factor(ratio)}): tr(Σ) {trace}, |G|² {g2}."
    )


def _factor(ratio: float) -> str:
    """A change as a factor: "4.9x larger", "2.1x smaller"."""
    if ratio <= 0:
        return "turned negative"
    return f"{significant(ratio)}x larger" if ratio >= 1 else f"{significant(1 / ratio)}x smaller"
