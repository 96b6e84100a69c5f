"""`sweep`: the body of `mnist-rules sweep`, callable from Python. The whole
samples-per-update axis, not three points on it: the same network from the same initial
weights, trained with each update size in turn. A size is a samples-per-update value, as
a rule is (1: the sample rule, all: the epoch rule, b: the batch rule with b samples), so
the one loop trains them all. Returns a SweepResult."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_rules.api.grid_options import (
    check_grid,
    configuration,
    parse_lrs,
    parse_seeds,
    require_optuna,
)  # fmt: skip
from mnist_rules.api.names import engines_named, step_mode_for
from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.config.options import SWEEP
from mnist_rules.config.rules import ALL, rule_for_size
from mnist_rules.errors import RunStopped, UsageError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.results import SweepResult

DEFAULT_SIZES = SWEEP.default.sizes


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


@takes(SWEEP, "SweepResult")
def sweep(o) -> SweepResult:
    """The options are `mnist-rules sweep`'s (docs/api.md); `sizes` may also be a list
    such as [1, 100, "all"]."""
    if world_from_env().distributed:
        raise UsageError("mnist-rules sweep runs in one process; run it without torchrun.")
    text = o.sizes if isinstance(o.sizes, str) else ",".join(str(size) for size in o.sizes)
    chosen = parse_sizes(text)
    engines = engines_named(o)
    several = len(engines) > 1
    seeds = parse_seeds(o.seeds, o.seed)
    grid_lrs = parse_lrs(o.lrs, o.tune_lr)
    check_grid(o, grid_lrs, {"--lr": o.lr})
    if o.noise_samples == 1:
        raise UsageError("--noise-samples: the noise scale needs at least 2 images (0: none).")
    check_outputs(o.json_out, o.csv_out, o.plot)  # before minutes of training
    require_optuna()

    # Imported here, not at the top: importing mnist_rules must not pay for torch.
    with heavy_imports():
        from mnist_rules.api.grid_series import machine, run_grid, total_line
        from mnist_rules.api.results import SweepResult, TrainResult
        from mnist_rules.api.series import console_for, load_data, print_report
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.grid.run import Arm, Grid
        from mnist_rules.report.comparison import engine_size_label, size_label

    def config_for(
        size: int | None, lr=None, seed: int = 0, evals: int = 1, engine=engines[0]
    ) -> TrainConfig:
        rule = rule_for_size(size)  # the same seed: every size starts from the same weights
        batch_size = size if rule.takes_batch_size else None
        return TrainConfig.from_options(
            o, rule=rule.name, batch_size=batch_size, lr=lr if lr is not None else o.lr,
            seed=seed, evals_per_epoch=evals, engine=engine,
            step_mode=step_mode_for(o.step_mode, engine, len(engines)),
        )  # fmt: skip

    # Each engine's configuration checked before the data is read; one load shared by
    # the runs, its data mode as the step mode asked needs it.
    checked = [config_for(chosen[0], engine=engine) for engine in engines]
    data = load_data(next((c for c in checked if c.step_mode is o.step_mode), checked[0]))
    n = data.train_size
    if text == DEFAULT_SIZES:  # a small --train-subset: the default sizes that fit
        chosen = [size for size in chosen if size is ALL or size < n]
    check_sizes(chosen, n, text)

    def arm(engine, size: int | None) -> Arm:
        # A size with fewer updates an epoch than --evals-per-epoch is read after each.
        reference = config_for(size, engine=engine)
        updates = reference.rule_entry.updates_per_epoch(n, reference.batch_size)
        evals = min(o.evals_per_epoch, updates)
        label = "all" if size is ALL else str(size)
        label = f"{engine.value}/{label}" if several else label
        return Arm(label, reference.lr, lambda lr, seed: config_for(size, lr, seed, evals, engine))

    arms = [arm(engine, size) for engine in engines for size in chosen]
    grid = Grid(
        arms, seeds, o.target_acc, grid_lrs, o.storage,
        configuration("sweep", o, [a.label for a in arms], seeds, grid_lrs,
                      {"machine": machine(o.device)}),
    )  # fmt: skip
    console = console_for(o.quiet)

    def swept(finals, tuning) -> SweepResult:
        runs = [TrainResult.of(r.run) for r in finals]
        trials = (tuning.trials if tuning is not None else []) + list(finals)
        label = engine_size_label if several else size_label
        result = SweepResult(runs, o.target_acc, label=label, trials=trials, tuning=tuning)
        if o.noise_samples:  # before the files are written: the JSON carries it
            result.noise_scale = winners_noise(result, {a.label: a for a in arms})
        return result

    def winners_noise(result: SweepResult, by_label: dict[str, Arm]) -> dict | None:
        """B_simple along the training of the size that reached the target soonest (its
        lr, its first seed), at its start and after each epoch; None if none reached it."""
        from mnist_rules.api.noise_scale import noise_along
        from mnist_rules.training.interrupts import stop_after_update_on_signals
        from mnist_rules.training.reporter import SILENT

        hits = [(s.time.median, label) for label, s in result.summaries().items() if s.time]
        if not hits:
            return None
        label = min(hits)[1]
        first = result.runs_of(label)[0]  # the winner's own engine, lr and seed
        samples = min(o.noise_samples, n)
        console.print(
            f"measuring the gradient noise scale along size {label}'s training (lr"
            f" {first.lr:g}, seed {first.seed}) over {samples:,} training images"
        )
        # The grid's results are not yet written: a measurement that stops (Ctrl-C, a
        # diverged loss) costs the noise scale only, and says so.
        try:
            with stop_after_update_on_signals():
                config = by_label[label].config(first.lr, first.seed)
                readings, _ = noise_along(config, data, samples, o.epochs, SILENT)
        except RunStopped as stopped:
            console.print(f"the noise scale was not measured: {stopped}")
            return None
        return {"label": label, "lr": first.lr, "seed": first.seed, "samples": samples,
                "points": [reading.to_dict() for reading in readings]}  # fmt: skip

    result = run_grid(grid, data, console, o.epochs, "size", swept, (o.json_out, o.csv_out))
    if o.plot is not None:
        from mnist_rules.report.plots import save_figure

        save_figure(result.plot(), o.plot)
    print_report(console, result.parts(), o.json_out, o.csv_out, o.plot)
    console.print(total_line(result))
    return result
