"""`mnist-rules make-large`: a training set K times MNIST's, for the out-of-core path."""

from __future__ import annotations

from pathlib import Path

import typer

from mnist_rules.cli.commands import option
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.config.options import SHARED
from mnist_rules.data.mnist import DatasetName
from mnist_rules.errors import UsageError


@friendly_errors
def make_large(
    copies: int = typer.Option(..., "--copies", min=1, help="Copies of the training set."),
    out: Path = typer.Option(
        ..., "--out", file_okay=False, help="Where to write <Dataset>/raw/ (created)."
    ),
    max_shift: int = typer.Option(
        2,
        "--max-shift",
        min=0,
        max=8,
        help="Copies after the first are shifted by up to this many pixels each way (seeded).",
    ),
    dataset: DatasetName = option(SHARED["dataset"]),
    data_dir: Path | None = option(SHARED["data_dir"]),
    seed: int = option(SHARED["seed"]),
    quiet: bool = option(SHARED["quiet"]),
) -> None:
    """Write a larger IDX training set: MNIST repeated, with small random shifts."""
    from rich.console import Console
    from rich.progress import Progress

    from mnist_rules.data import mnist as data_mod
    from mnist_rules.data.make_large import make_large as write_set

    source = data_mod.resolve_data_dir(data_dir)
    if out.expanduser().resolve() == source.resolve():
        raise UsageError(
            f"--out {out} is the data directory the set is read from; its training files"
            " would be overwritten. Choose another directory."
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory.")
    data = data_mod.load(dataset, source)
    console = Console(quiet=quiet, highlight=False, soft_wrap=True)
    n = len(data.train)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"writing {copies} copies of {n:,} images", total=copies)
        raw = write_set(data, copies, out, seed, max_shift, lambda c: bar.update(task, completed=c))
    size = (raw / "train-images-idx3-ubyte").stat().st_size
    console.print(
        f"wrote {n * copies:,} training images ({size / 1e6:,.0f} MB) and the {len(data.test):,}"
        f" test images to {raw}; train on them with --data-dir {out}"
    )
