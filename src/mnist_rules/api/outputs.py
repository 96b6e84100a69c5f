"""The files `compare` and `sweep` write, checked before any training: a plot's format
is named by its suffix, and every path must be writable."""

from __future__ import annotations

from pathlib import Path

from mnist_rules.atomic import check_writable
from mnist_rules.errors import UsageError

PLOT_FORMATS = ("png", "svg", "pdf")


def check_outputs(json_out: Path | None, csv_out: Path | None, plot: Path | None) -> None:
    if plot is not None and plot.suffix.lstrip(".").lower() not in PLOT_FORMATS:
        raise UsageError(
            f"--plot {plot}: the name must end in {', '.join('.' + f for f in PLOT_FORMATS)}"
            " (the format is taken from it)."
        )
    for path, option in ((json_out, "--json"), (csv_out, "--csv"), (plot, "--plot")):
        if path is not None:
            check_writable(path, option)
