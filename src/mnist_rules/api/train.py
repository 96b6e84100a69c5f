"""`train`: the body of `mnist-rules train`, callable from Python. It checks the options,
trains with one rule, prints what the command prints (nothing with quiet=True), writes
the files asked for, and returns the run's TrainResult."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.atomic import atomic_path, check_writable
from mnist_rules.config.options import TRAIN
from mnist_rules.config.rules import RULES, batch_rules
from mnist_rules.errors import Interrupted, RunStopped, UsageError, UserError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.results import TrainResult


@takes(TRAIN, "TrainResult")
def train(o) -> TrainResult:
    """The options are `mnist-rules train`'s (docs/api.md); raises UserError where the
    command fails. Prints what the command prints (nothing with quiet=True), writes the
    files asked for, and returns the run's TrainResult."""
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
    with heavy_imports():
        import torch
        from rich.console import Console

        from mnist_rules.api.results import TrainResult
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.report.progress import RichReporter, count, final_line
        from mnist_rules.training import checkpoint as ckpt
        from mnist_rules.training.distributed import stop as stop_process_group
        from mnist_rules.training.interrupts import stop_after_update_on_signals
        from mnist_rules.training.loop import train as run_training

    config = TrainConfig.from_options(o)
    state = ckpt.read(o.resume) if o.resume is not None else None  # a bad file fails first
    saver = None
    if o.checkpoint is not None and world.is_main:
        saver = ckpt.Checkpointer(o.checkpoint, o.checkpoint_every)
        # A checkpoint holds the optimiser's state_dict, made by a torch.optim.SGD
        # (engines.base.sgd_state), and an optimiser's first call imports torch._dynamo:
        # 1.3 s, here, not after the first epoch (where a Ctrl-C would wait for it).
        with heavy_imports():
            import torch._dynamo
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
    rule_name: str, batch_size: int | None, checkpoint: Path | None, every: int | None
) -> None:
    """The options that only make sense together, or with some rules only."""
    rule = RULES[rule_name]
    if batch_size is not None and not rule.takes_batch_size:
        takers = " or ".join(batch_rules())
        raise UsageError(
            f"--batch-size applies to --rule {takers} only; the {rule.name} rule uses"
            f" {rule.per_update} per update."
        )
    if every is not None and checkpoint is None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH: where to save them.")
    if every is not None and rule.one_update_per_epoch:
        several = " and ".join(r.name for r in RULES.values() if not r.one_update_per_epoch)
        raise UsageError(
            f"--checkpoint-every applies to the {several} rules: the {rule.name} rule's only"
            " update is the epoch, after which --checkpoint already saves one."
        )
