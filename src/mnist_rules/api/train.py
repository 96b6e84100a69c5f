"""`train`: the body of `mnist-rules train`, callable from Python. It checks the options,
trains with one rule, prints what the command prints (nothing with quiet=True), writes
the files asked for, and returns the run's TrainResult."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.api.specs import TRAIN
from mnist_rules.atomic import atomic_path, check_writable
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import Interrupted, RunStopped, UsageError, UserError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

if TYPE_CHECKING:
    from mnist_rules.api.results import TrainResult

D = TRAIN.default


def train(
    *,
    rule: RuleName | str = D.rule,
    epochs: int = D.epochs,
    lr: float | None = D.lr,
    batch_size: int | None = D.batch_size,
    shuffle: bool | None = D.shuffle,
    engine: EngineName | str = D.engine,
    data_mode: DataMode | str = D.data_mode,
    stream_block: int = D.stream_block,
    stream_buffers: int = D.stream_buffers,
    step_mode: StepMode | str = D.step_mode,
    device: DeviceChoice | str = D.device,
    dataset: DatasetName | str = D.dataset,
    data_dir: Path | str | None = D.data_dir,
    train_subset: int | None = D.train_subset,
    seed: int = D.seed,
    json_out: Path | str | None = D.json_out,
    save: Path | str | None = D.save,
    checkpoint: Path | str | None = D.checkpoint,
    checkpoint_every: int | None = D.checkpoint_every,
    resume: Path | str | None = D.resume,
    require_acc: float | None = D.require_acc,
    quiet: bool = D.quiet,
) -> TrainResult:
    """Train the MLP with one update rule; print a line per epoch. The options are
    `mnist-rules train`'s (docs/api.md); raises UserError where the command fails."""
    o = TRAIN.check(locals())  # first: nothing but the arguments is defined yet
    check_combinations(o.rule, o.batch_size, o.checkpoint, o.checkpoint_every)
    world = world_from_env()  # under torchrun: one of several processes
    if world.distributed and o.checkpoint_every is not None:
        raise UsageError(
            "--checkpoint-every is not available under torchrun: each process trains a"
            " share of the epoch, so checkpoints are written at epoch ends only."
        )
    outputs = ((o.json_out, "--json"), (o.save, "--save"), (o.checkpoint, "--checkpoint"))
    if world.is_main:  # the process that writes them
        for path, option in outputs:
            if path is not None:
                check_writable(path, option)

    # Imported here, not at the top: importing mnist_rules must not pay for torch or rich.
    import torch
    from rich.console import Console

    from mnist_rules.api.results import TrainResult
    from mnist_rules.cli.progress import RichReporter, count, final_line
    from mnist_rules.training import checkpoint as ckpt
    from mnist_rules.training.config import TrainConfig
    from mnist_rules.training.distributed import stop as stop_process_group
    from mnist_rules.training.interrupts import stop_after_update_on_signals
    from mnist_rules.training.loop import train as run_training

    config = TrainConfig(
        rule=o.rule,
        epochs=o.epochs,
        lr=o.lr,
        batch_size=o.batch_size,
        shuffle=o.shuffle,
        seed=o.seed,
        engine=o.engine,
        step_mode=o.step_mode,
        data_mode=o.data_mode,
        stream_block=o.stream_block,
        stream_buffers=o.stream_buffers,
        device=o.device,
        dataset=o.dataset,
        data_dir=o.data_dir,
        train_subset=o.train_subset,
    )
    state = ckpt.read(o.resume) if o.resume is not None else None  # a bad file fails first
    saver = None
    if o.checkpoint is not None and world.is_main:
        saver = ckpt.Checkpointer(o.checkpoint, o.checkpoint_every)
    console = Console(quiet=o.quiet or not world.is_main, highlight=False, soft_wrap=True)
    if state is not None:
        at = state["position"]
        console.print(
            f"resuming from {o.resume}: {count(at['epochs'], 'epoch')} finished"
            + (
                f", epoch {at['epochs'] + 1} stopped after {count(at['updates'], 'update')}"
                if at["samples"]
                else ""
            )
        )
    try:
        with stop_after_update_on_signals(), RichReporter(o.epochs, console) as reporter:
            trained = run_training(
                config,
                reporter=reporter,
                checkpoint=saver,
                resume=state,
                resume_path=o.resume,
                world=world,
            )
    except RunStopped as stopped:  # diverged or interrupted: keep the finished epochs
        kept = stopped.result is not None and stopped.result.epochs and world.is_main
        if o.json_out is not None and kept:
            stopped.result.write(o.json_out)
            stopped.args = (f"{stopped} The finished epochs' results are in {o.json_out}.",)
        if isinstance(stopped, Interrupted) and o.checkpoint is None:
            stopped.args = (
                f"{stopped} No --checkpoint was given, so this run cannot be resumed;"
                " give --checkpoint PATH to be able to.",
            )
        raise
    finally:  # train() leaves the group itself; this covers a run that failed starting
        stop_process_group()
    result = TrainResult.of(trained.result)

    if o.json_out is not None and world.is_main:
        result.write(o.json_out)
    if o.save is not None and world.is_main:
        with atomic_path(o.save) as tmp:
            torch.save(trained.engine.weights(), tmp)

    console.print(final_line(result))
    for path, what in ((o.json_out, "results"), (o.save, "weights"), (o.checkpoint, "checkpoint")):
        if path is not None:
            console.print(f"{what} written to {path}")
    final = result.final
    if o.require_acc is not None and final.test_acc < o.require_acc:
        raise UserError(
            f"The final test accuracy {final.test_acc:.2f}% is below --require-acc"
            f" {o.require_acc:g}%."
        )
    return result


def check_combinations(
    rule: RuleName, batch_size: int | None, checkpoint: Path | None, every: int | None
) -> None:
    """The options that only make sense together, or with some rules only."""
    if batch_size is not None and rule is not RuleName.batch:
        raise UsageError(
            f"--batch-size applies to --rule batch only; the {rule.value} rule uses"
            f" {'every training image' if rule is RuleName.epoch else 'one image'} per update."
        )
    if every is not None and checkpoint is None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH: where to save them.")
    if every is not None and rule is RuleName.epoch:
        raise UsageError(
            "--checkpoint-every applies to the batch and sample rules: the epoch rule's only"
            " update is the epoch, after which --checkpoint already saves one."
        )
