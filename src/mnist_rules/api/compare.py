"""`compare`: the body of `mnist-rules compare`, callable from Python. The rules side by
side on one shared load of the data: which reaches a target accuracy in the least
training time, and what each costs per epoch. Returns a CompareResult."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.specs import COMPARE
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

if TYPE_CHECKING:
    from mnist_rules.api.results import CompareResult

D = COMPARE.default
DEFAULT_ENGINE = EngineName.tuned  # when neither --engine nor --engines names one


def parse_names(names: str | Sequence, kind: type[Enum], option: str, noun: str) -> list:
    """`--rules epoch,batch` (or `--engines torch,tuned`; in Python also a list of names
    or members) as a list of `kind`, each once."""
    text = names if isinstance(names, str) else ",".join(_value(name) for name in names)
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


def _value(name) -> str:
    return name.value if isinstance(name, Enum) else str(name)


def compare(
    *,
    epochs: int = D.epochs,
    rules: str | Sequence[RuleName | str] = D.rules,
    target_acc: float = D.target_acc,
    lr_epoch: float | None = D.lr_epoch,
    lr_batch: float | None = D.lr_batch,
    lr_sample: float | None = D.lr_sample,
    batch_size: int | None = D.batch_size,
    update_losses: bool = D.update_losses,
    engine: EngineName | str | None = D.engine,
    engines: str | Sequence[EngineName | str] | None = D.engines,
    step_mode: StepMode | str = D.step_mode,
    device: DeviceChoice | str = D.device,
    dataset: DatasetName | str = D.dataset,
    data_dir: Path | str | None = D.data_dir,
    train_subset: int | None = D.train_subset,
    data_mode: DataMode | str = D.data_mode,
    stream_block: int = D.stream_block,
    stream_buffers: int = D.stream_buffers,
    seed: int = D.seed,
    plot: Path | str | None = D.plot,
    json_out: Path | str | None = D.json_out,
    csv_out: Path | str | None = D.csv_out,
    quiet: bool = D.quiet,
) -> CompareResult:
    """Train with each rule from the same initial weights; compare time to accuracy.
    The options are `mnist-rules compare`'s (docs/api.md)."""
    o = COMPARE.check(locals())  # first: nothing but the arguments is defined yet
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules compare runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    chosen = parse_names(o.rules, RuleName, "--rules", "rule")
    if o.engines is not None and o.engine is not None:
        raise UsageError("--engine and --engines both name the engines; give one of them.")
    chosen_engines = (
        parse_names(o.engines, EngineName, "--engines", "engine")
        if o.engines is not None
        else [o.engine or DEFAULT_ENGINE]
    )
    lrs = {RuleName.epoch: o.lr_epoch, RuleName.batch: o.lr_batch, RuleName.sample: o.lr_sample}
    for rule, value in lrs.items():
        if value is not None and rule not in chosen:
            raise UsageError(f"--lr-{rule.value} was given, but {rule.value} is not in --rules.")
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--lr-{rule.value} must be a positive finite number; got {value}.")
    if o.batch_size is not None and RuleName.batch not in chosen:
        raise UsageError("--batch-size applies to the batch rule, which is not in --rules.")
    check_outputs(o.json_out, o.csv_out, o.plot)  # before minutes of training

    # Imported here, not at the top: importing mnist_rules must not pay for torch.
    import torch

    from mnist_rules.api.results import CompareResult, TrainResult
    from mnist_rules.api.series import console_for, load_data, print_report, train_series
    from mnist_rules.report.comparison import engine_rule_label, rule_label
    from mnist_rules.training.config import TrainConfig

    configs = [
        TrainConfig(
            rule=rule,
            epochs=o.epochs,
            lr=lrs[rule],
            batch_size=o.batch_size if rule is RuleName.batch else None,
            seed=o.seed,  # the same seed: every rule starts from the same weights
            engine=engine,
            # With --engines, the step mode is the tuned engine's: the torch engine runs
            # op by op (alone, it refuses another mode, as train does).
            step_mode=StepMode.auto
            if engine is EngineName.torch and len(chosen_engines) > 1
            else o.step_mode,
            device=o.device,
            dataset=o.dataset,
            record_update_losses=o.update_losses,
            data_mode=o.data_mode,  # refuses stream with captured steps, as train does
            stream_block=o.stream_block,
            stream_buffers=o.stream_buffers,
        )
        for engine in chosen_engines
        for rule in chosen
    ]
    # One load shared by the runs, its data mode as the step mode asked needs it.
    data = load_data(next((c for c in configs if c.step_mode is o.step_mode), configs[0]),
                     o.data_dir, o.train_subset)  # fmt: skip
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
