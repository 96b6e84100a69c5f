"""`compare`: the body of `mnist-rules compare`, callable from Python. The rules side by
side on one shared load of the data: which reaches a target accuracy in the least
training time, and what each costs per epoch. Returns a CompareResult."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_rules.api.grid_options import (
    check_grid,
    configuration,
    parse_lrs,
    parse_seeds,
    require_optuna,
)  # fmt: skip
from mnist_rules.api.names import engines_named, parse_names, step_mode_for
from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.config.options import COMPARE
from mnist_rules.config.rules import RULES, batch_rules
from mnist_rules.errors import UsageError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.results import CompareResult


@takes(COMPARE, "CompareResult")
def compare(o) -> CompareResult:
    """The options are `mnist-rules compare`'s (docs/api.md)."""
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules compare runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    chosen = parse_names(o.rules, list(RULES), "--rules", "rule")
    chosen_engines = engines_named(o)
    # Each rule's --lr-<rule> (a rule added at run time has none: its default rate).
    lrs = {name: getattr(o, f"lr_{name}", None) for name in RULES}
    for rule, value in lrs.items():
        if value is None:
            continue
        if rule not in chosen:
            raise UsageError(f"--lr-{rule} was given, but {rule} is not in --rules.")
        COMPARE[f"lr_{rule}"].but(positive=True).check(value)  # as --lr is checked
    if o.batch_size is not None and not any(RULES[rule].takes_batch_size for rule in chosen):
        takers = " or ".join(batch_rules())
        raise UsageError(f"--batch-size applies to the {takers} rule, which is not in --rules.")
    seeds = parse_seeds(o.seeds, o.seed)
    grid_lrs = parse_lrs(o.lrs, o.tune_lr)
    check_grid(o, grid_lrs, {f"--lr-{rule}": value for rule, value in lrs.items()})
    check_outputs(o.json_out, o.csv_out, o.plot)  # before minutes of training
    require_optuna()

    # Imported here, not at the top: importing mnist_rules must not pay for torch.
    with heavy_imports():
        import torch

        from mnist_rules.api.grid_series import machine, run_grid, total_line
        from mnist_rules.api.results import CompareResult, TrainResult
        from mnist_rules.api.series import console_for, load_data, print_report
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.grid.run import Arm, Grid
        from mnist_rules.report.comparison import engine_rule_label, rule_label

    several = len(chosen_engines) > 1

    def config(engine, rule: str, lr: float | None = None, seed: int = 0, evals: int = 1):
        return TrainConfig.from_options(
            o,
            rule=rule,
            lr=lr,
            batch_size=o.batch_size if RULES[rule].takes_batch_size else None,
            engine=engine,  # the same seed: every run starts from the same weights
            step_mode=step_mode_for(o.step_mode, engine, len(chosen_engines)),
            record_update_losses=o.update_losses,
            seed=seed,
            evals_per_epoch=evals,
        )

    # One load shared by the runs, its data mode as the step mode asked needs it.
    checked = [config(engine, rule, lrs[rule]) for engine in chosen_engines for rule in chosen]
    data = load_data(next((c for c in checked if c.step_mode is o.step_mode), checked[0]))
    n = data.train_size

    def arm(engine, rule: str) -> Arm:
        # A rule with fewer updates an epoch than --evals-per-epoch is read after each.
        evals = min(o.evals_per_epoch, RULES[rule].updates_per_epoch(n, o.batch_size))
        label = f"{engine.value}/{rule}" if several else rule
        reference = config(engine, rule, lrs[rule]).lr
        return Arm(label, reference, lambda lr, seed: config(engine, rule, lr, seed, evals))

    arms = [arm(engine, rule) for engine in chosen_engines for rule in chosen]
    # The machine names the study too: a CPU's trials and a GPU's do not share a grid.
    given = {f"lr_{rule}": lrs[rule] for rule in chosen} | {"machine": machine(o.device)}
    grid = Grid(
        arms, seeds, o.target_acc, grid_lrs, o.storage,
        configuration("compare", o, [a.label for a in arms], seeds, grid_lrs, given),
    )  # fmt: skip
    console = console_for(o.quiet)
    label = engine_rule_label if several else rule_label

    def compared(finals, tuning) -> CompareResult:
        runs = [TrainResult.of(r.run) for r in finals]
        trials = (tuning.trials if tuning is not None else []) + list(finals)
        result = CompareResult(runs, o.target_acc, label=label, trials=trials, tuning=tuning)
        if o.update_losses:  # the first seed's, by label
            result.update_losses = {
                r.label: torch.cat(r.update_losses).numpy()
                for r in finals
                if r.seed == seeds[0] and r.update_losses
            }
        return result

    result = run_grid(grid, data, console, o.epochs, "rule", compared, (o.json_out, o.csv_out))
    if o.plot is not None:
        from mnist_rules.report.plots import save_figure

        save_figure(result.plot(), o.plot)
    curve = console.width if console.is_terminal else None
    print_report(console, result.parts(curve_width=curve), o.json_out, o.csv_out, o.plot)
    console.print(total_line(result))
    return result
