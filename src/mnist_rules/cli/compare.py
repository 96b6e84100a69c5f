"""`mnist-rules compare`: the rules side by side on one shared load of the data: which
reaches a target accuracy in the least training time, and what each costs per epoch."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.cli.outputs import check_outputs
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import DEFAULT_BATCH_SIZE, RuleName

ALL_RULES = ",".join(r.value for r in RuleName)


def parse_names(text: str, kind: type[Enum], option: str, noun: str) -> list:
    """`--rules epoch,batch` (or `--engines torch,tuned`) as a list of `kind`, each once."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid = ", ".join(member.value for member in kind)
    if not names:
        raise UsageError(f"{option} needs at least one of {valid}, separated by commas.")
    unknown = [n for n in names if n not in {member.value for member in kind}]
    if unknown:
        raise UsageError(f"{option}: unknown {noun} {unknown[0]!r}; choose from {valid}.")
    if len(set(names)) != len(names):
        raise UsageError(f"{option} {text}: each {noun} may be named once.")
    return [kind(n) for n in names]


def parse_rules(text: str) -> list[RuleName]:
    return parse_names(text, RuleName, "--rules", "rule")


def parse_engines(text: str) -> list[EngineName]:
    return parse_names(text, EngineName, "--engines", "engine")


def _lr_option(rule: RuleName, default: float) -> typer.Option:
    return typer.Option(
        None,
        f"--lr-{rule.value}",
        help=f"Learning rate of the {rule.value} rule (default {default:g}).",
    )


@friendly_errors
def compare(
    ctx: typer.Context,
    epochs: int = typer.Option(10, "--epochs", min=1, help="Epochs for each rule."),
    rules: str = typer.Option(
        ALL_RULES, "--rules", help="Rules to run, comma-separated, in the order to show them."
    ),
    target_acc: float = options.TargetAcc,
    lr_epoch: float | None = _lr_option(RuleName.epoch, 0.1),
    lr_batch: float | None = _lr_option(RuleName.batch, 0.1),
    lr_sample: float | None = _lr_option(RuleName.sample, 0.01),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help=f"Samples per update of the batch rule (default {DEFAULT_BATCH_SIZE}).",
    ),
    update_losses: bool = typer.Option(
        False,
        "--update-losses",
        help="Record the loss of every update and plot it (a fourth panel; needs --plot).",
    ),
    engine: EngineName = options.Engine,
    engines: str | None = typer.Option(
        None,
        "--engines",
        help="Run each rule on each of these engines, comma-separated (torch,tuned), all"
        " from the same initial weights and order; in place of --engine.",
    ),
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    seed: int = options.Seed,
    plot: Path | None = typer.Option(
        None, "--plot", dir_okay=False, help="Write the curves here (.png, .svg or .pdf)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write every run's results and the verdict's data."
    ),
    csv_out: Path | None = typer.Option(
        None, "--csv", dir_okay=False, help="Write one row per rule per epoch."
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Train with each rule from the same initial weights; compare time to accuracy."""
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules compare runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    chosen = parse_rules(rules)
    chosen_engines = parse_engines(engines) if engines is not None else [engine]
    given = ctx.get_parameter_source("engine")
    if engines is not None and given is not None and given.name == "COMMANDLINE":
        raise UsageError("--engine and --engines both name the engines; give one of them.")
    lrs = {RuleName.epoch: lr_epoch, RuleName.batch: lr_batch, RuleName.sample: lr_sample}
    for rule, value in lrs.items():
        if value is not None and rule not in chosen:
            raise UsageError(f"--lr-{rule.value} was given, but {rule.value} is not in --rules.")
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--lr-{rule.value} must be a positive finite number; got {value}.")
    if batch_size is not None and RuleName.batch not in chosen:
        raise UsageError("--batch-size applies to the batch rule, which is not in --rules.")
    if update_losses and plot is None:
        raise UsageError("--update-losses adds a panel to the plot; give --plot PATH too.")
    check_outputs(json_out, csv_out, plot)  # before minutes of training

    # Imported here, not at the top: --help must not pay for torch, rich or matplotlib.
    import torch

    from mnist_rules.cli.compare_report import accuracy_table, summary_table, terminal_curve
    from mnist_rules.cli.series import console_for, load_data, train_series
    from mnist_rules.report.comparison import Comparison, engine_rule_label, rule_label
    from mnist_rules.report.verdict import engines_verdict, verdict
    from mnist_rules.training.config import TrainConfig

    configs = [
        TrainConfig(
            rule=rule,
            epochs=epochs,
            lr=lrs[rule],
            batch_size=batch_size if rule is RuleName.batch else None,
            seed=seed,  # the same seed: every rule starts from the same weights
            engine=engine,
            # With --engines, the step mode is the tuned engine's: the torch engine runs
            # op by op (alone, it refuses another mode, as train does).
            step_mode=StepMode.auto
            if engine is EngineName.torch and len(chosen_engines) > 1
            else step_mode,
            device=device,
            dataset=dataset,
            record_update_losses=update_losses,
            data_mode=data_mode,  # refuses stream with captured steps, as train does
            stream_block=stream_block,
            stream_buffers=stream_buffers,
        )
        for engine in chosen_engines
        for rule in chosen
    ]
    label = engine_rule_label if len(chosen_engines) > 1 else rule_label
    # One load shared by the runs, its data mode as the step mode asked needs it.
    data = load_data(next((c for c in configs if c.step_mode is step_mode), configs[0]),
                     data_dir, train_subset)  # fmt: skip
    console = console_for(quiet)
    losses = {}

    def keep_losses(config, run) -> None:
        if update_losses:
            losses[label(run.result)] = torch.cat(run.update_losses).numpy()

    comparison = train_series(
        configs,
        data,
        console,
        lambda results: Comparison(results, target_acc, label=label),
        (json_out, csv_out),
        keep_losses,
    )
    if plot is not None:
        from mnist_rules.report.plots import comparison_figure, save_figure

        save_figure(comparison_figure(comparison, losses if update_losses else None), plot)

    console.print()
    console.print(summary_table(comparison), soft_wrap=False)
    heading = (lambda run: f"{run.engine} {run.rule}") if len(chosen_engines) > 1 else None
    console.print(accuracy_table(comparison, *([heading] if heading else [])), soft_wrap=False)
    if console.is_terminal and epochs > 1:
        curve = terminal_curve(comparison, console.width)
        console.print(curve or "(no terminal curve: install uniplot to draw one)", soft_wrap=False)
    console.print(engines_verdict(comparison) if len(chosen_engines) > 1 else verdict(comparison))
    for path, what in ((json_out, "results"), (csv_out, "per-epoch table"), (plot, "plot")):
        if path is not None:
            console.print(f"{what} written to {path}")
