"""`compare`: the body of `mnist-rules compare`, callable from Python. The rules side by
side on one shared load of the data: which reaches a target accuracy in the least
training time, and what each costs per epoch. Returns a CompareResult."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.config.options import COMPARE, DEFAULT_ENGINE
from mnist_rules.config.rules import RULES, batch_rules
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.results import CompareResult


def parse_names(names: str | Sequence, kind, option: str, noun: str) -> list:
    """`--rules epoch,batch` (or `--engines torch,tuned`; in Python also a list of names
    or members) as a list of `kind` (an Enum, or the valid names), each once."""
    text = names if isinstance(names, str) else ",".join(_value(name) for name in names)
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid = ", ".join(_value(member) for member in kind)
    if not names:
        raise UsageError(f"{option} needs at least one of {valid}, separated by commas.")
    unknown = [n for n in names if n not in {_value(member) for member in kind}]
    if unknown:
        raise UsageError(f"{option}: unknown {noun} {unknown[0]!r}; choose from {valid}.")
    if len(set(names)) != len(names):
        raise UsageError(f"{option} {text}: each {noun} may be named once.")
    return [kind(n) for n in names] if isinstance(kind, type) else names


def _value(name) -> str:
    return name.value if isinstance(name, Enum) else str(name)


@takes(COMPARE, "CompareResult")
def compare(o) -> CompareResult:
    """The options are `mnist-rules compare`'s (docs/api.md)."""
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules compare runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    chosen = parse_names(o.rules, list(RULES), "--rules", "rule")
    if o.engines is not None and o.engine is not None:
        raise UsageError("--engine and --engines both name the engines; give one of them.")
    chosen_engines = (
        parse_names(o.engines, EngineName, "--engines", "engine")
        if o.engines is not None
        else [o.engine or DEFAULT_ENGINE]
    )
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
    check_outputs(o.json_out, o.csv_out, o.plot)  # before minutes of training

    # Imported here, not at the top: importing mnist_rules must not pay for torch.
    with heavy_imports():
        import torch

        from mnist_rules.api.results import CompareResult, TrainResult
        from mnist_rules.api.series import console_for, load_data, print_report, train_series
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.engines.registry import engine_class
        from mnist_rules.report.comparison import engine_rule_label, rule_label

    def step_mode(engine: EngineName) -> StepMode:
        """With --engines, the step mode is for the engines that take it: the others run
        theirs (alone, an engine refuses a mode it does not take, as train does)."""
        takes_it = o.step_mode in engine_class(engine).step_modes
        return o.step_mode if takes_it or len(chosen_engines) == 1 else StepMode.auto

    configs = [
        TrainConfig.from_options(
            o,
            rule=rule,
            lr=lrs[rule],
            batch_size=o.batch_size if RULES[rule].takes_batch_size else None,
            engine=engine,  # the same seed: every run starts from the same weights
            step_mode=step_mode(engine),
            record_update_losses=o.update_losses,
        )
        for engine in chosen_engines
        for rule in chosen
    ]
    # One load shared by the runs, its data mode as the step mode asked needs it.
    data = load_data(next((c for c in configs if c.step_mode is o.step_mode), configs[0]))
    console = console_for(o.quiet)
    label = engine_rule_label if len(chosen_engines) > 1 else rule_label
    losses = {}

    def compared(results) -> CompareResult:
        return CompareResult([TrainResult.of(r) for r in results], o.target_acc, label=label)

    def keep_losses(config, run) -> None:
        if o.update_losses:
            losses[label(run.result)] = torch.cat(run.update_losses).numpy()

    result = train_series(configs, data, console, compared, (o.json_out, o.csv_out), keep_losses)
    result.update_losses = losses if o.update_losses else None
    if o.plot is not None:
        from mnist_rules.report.plots import save_figure

        save_figure(result.plot(), o.plot)
    curve = console.width if console.is_terminal else None
    print_report(console, result.parts(curve_width=curve), o.json_out, o.csv_out, o.plot)
    return result
