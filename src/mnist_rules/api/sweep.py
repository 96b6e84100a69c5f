"""`sweep`: the body of `mnist-rules sweep`, callable from Python. The whole
samples-per-update axis, not three points on it: the same network from the same initial
weights, trained with each update size in turn. A size is a samples-per-update value, as
a rule is (1: the sample rule, all: the epoch rule, b: the batch rule with b samples), so
the one loop trains them all. Returns a SweepResult."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.specs import SWEEP
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

if TYPE_CHECKING:
    from mnist_rules.api.results import SweepResult

D = SWEEP.default
DEFAULT_SIZES = D.sizes
ALL = None  # the whole training set, in a parsed list of sizes


def parse_sizes(text: str) -> list[int | None]:
    """`--sizes 1,10,all` as [1, 10, ALL]; a one-line error for anything else."""
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if not tokens:
        raise UsageError("--sizes needs at least one size: samples per update, or all.")
    sizes: list[int | None] = []
    for token in tokens:
        if token.lower() == "all":
            sizes.append(ALL)
            continue
        try:
            size = int(token)
        except ValueError:
            raise UsageError(
                f"--sizes {text}: {token!r} is not a number of samples per update (or all)."
            ) from None
        if size < 1:
            raise UsageError(f"--sizes {text}: a size must be at least 1; got {size}.")
        sizes.append(size)
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"--sizes {text}: each size may be named once.")
    return sizes


def check_sizes(sizes: list[int | None], n: int, text: str) -> None:
    """Against the training set: a size larger than it, or the same as `all`, is refused."""
    for size in sizes:
        if size is not ALL and size > n:
            raise UsageError(
                f"--sizes {text}: {size:,} samples per update is more than the training set"
                f" ({n:,} images); use all for one update per epoch."
            )
    if ALL in sizes and n in sizes:
        raise UsageError(
            f"--sizes {text}: {n:,} and all are both the whole training set; name it once."
        )


def sweep(
    *,
    sizes: str | Sequence[int | str] = D.sizes,
    epochs: int = D.epochs,
    target_acc: float = D.target_acc,
    lr: float | None = D.lr,
    shuffle: bool | None = D.shuffle,
    engine: EngineName | str = D.engine,
    step_mode: StepMode | str = D.step_mode,
    device: DeviceChoice | str = D.device,
    dataset: DatasetName | str = D.dataset,
    data_dir: Path | str | None = D.data_dir,
    train_subset: int | None = D.train_subset,
    data_mode: DataMode | str = D.data_mode,
    seed: int = D.seed,
    plot: Path | str | None = D.plot,
    json_out: Path | str | None = D.json_out,
    csv_out: Path | str | None = D.csv_out,
    quiet: bool = D.quiet,
) -> SweepResult:
    """Train with each update size from the same initial weights; where does the
    trade-off between accuracy and time lie? The options are `mnist-rules sweep`'s
    (docs/api.md); `sizes` may also be a list such as [1, 100, "all"]."""
    o = SWEEP.check(locals())  # first: nothing but the arguments is defined yet
    if world_from_env().distributed:
        raise UsageError("mnist-rules sweep runs in one process; run it without torchrun.")
    text = o.sizes if isinstance(o.sizes, str) else ",".join(str(size) for size in o.sizes)
    chosen = parse_sizes(text)
    if o.lr is not None and not (math.isfinite(o.lr) and o.lr > 0):
        raise UsageError(f"--lr must be a positive finite number; got {o.lr}.")
    check_outputs(o.json_out, o.csv_out, o.plot)  # before minutes of training

    # Imported here, not at the top: importing mnist_rules must not pay for torch.
    from mnist_rules.api.results import SweepResult, TrainResult
    from mnist_rules.api.series import console_for, load_data, print_report, train_series
    from mnist_rules.report.comparison import size_label
    from mnist_rules.training.config import TrainConfig

    def config_for(size: int | None) -> TrainConfig:
        rule = RuleName.epoch if size is ALL else RuleName.sample if size == 1 else RuleName.batch
        return TrainConfig(
            rule=rule,
            epochs=o.epochs,
            lr=o.lr,
            batch_size=size if rule is RuleName.batch else None,
            shuffle=o.shuffle,
            seed=o.seed,  # the same seed: every size starts from the same weights
            engine=o.engine,
            step_mode=o.step_mode,
            device=o.device,
            dataset=o.dataset,
            data_mode=o.data_mode,
        )

    first = config_for(chosen[0])  # checks the options before the data is read
    data = load_data(first, o.data_dir, o.train_subset)  # shared by the runs
    if text == DEFAULT_SIZES:  # a small --train-subset: the default sizes that fit
        chosen = [size for size in chosen if size is ALL or size < data.train_size]
    check_sizes(chosen, data.train_size, text)
    configs = [config_for(size) for size in chosen]
    console = console_for(o.quiet)

    def swept(results) -> SweepResult:
        return SweepResult([TrainResult.of(r) for r in results], o.target_acc, label=size_label)

    result = train_series(configs, data, console, swept, (o.json_out, o.csv_out))
    if o.plot is not None:
        from mnist_rules.report.plots import save_figure

        save_figure(result.plot(), o.plot)
    print_report(console, result.parts(), o.json_out, o.csv_out, o.plot)
    return result
