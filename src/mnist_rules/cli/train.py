"""`mnist-rules train`: train with one update rule and report each epoch."""

from __future__ import annotations

from pathlib import Path

import typer

from mnist_rules.atomic import atomic_path, check_writable
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import Interrupted, RunStopped, UsageError, UserError
from mnist_rules.report.numbers import seconds
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import DEFAULT_BATCH_SIZE, RuleName


@friendly_errors
def train(
    rule: RuleName = typer.Option(
        RuleName.batch,
        "--rule",
        help="epoch: one update per epoch (full batch); batch: one per mini-batch;"
        " sample: one per image.",
    ),
    epochs: int = typer.Option(10, "--epochs", min=1, help="Passes over the training set."),
    lr: float | None = typer.Option(
        None,
        "--lr",
        help="Learning rate. Default: the reference 0.1 (epoch, batch), 0.01 (sample).",
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help=f"Samples per update for --rule batch (default {DEFAULT_BATCH_SIZE}).",
    ),
    shuffle: bool | None = typer.Option(
        None,
        "--shuffle/--no-shuffle",
        help="Reshuffle every epoch. Default: on for batch, off (dataset order) otherwise.",
        show_default=False,
    ),
    engine: EngineName = options.Engine,
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    seed: int = options.Seed,
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write the results JSON here (atomically)."
    ),
    save: Path | None = typer.Option(
        None, "--save", dir_okay=False, help="Save the final weights (a state_dict) here."
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        dir_okay=False,
        help="Save a checkpoint here after every epoch and when Ctrl-C or SIGTERM stops"
        " the run (atomically; resume it with --resume).",
    ),
    checkpoint_every: int | None = typer.Option(
        None,
        "--checkpoint-every",
        min=1,
        help="Also save one every N updates within an epoch (batch and sample rules; the"
        " tuned engine's sample rule at the next block of 128).",
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Go on from this checkpoint: give the options of the run that wrote it; a"
        " larger --epochs trains on.",
    ),
    require_acc: float | None = typer.Option(
        None,
        "--require-acc",
        min=0,
        max=100,
        help="Exit with code 1 if the final test accuracy (percent) is below this.",
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Train the MLP with one update rule; print a line per epoch."""
    if batch_size is not None and rule is not RuleName.batch:
        raise UsageError(
            f"--batch-size applies to --rule batch only; the {rule.value} rule uses"
            f" {'every training image' if rule is RuleName.epoch else 'one image'} per update."
        )
    if checkpoint_every is not None and checkpoint is None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH: where to save them.")
    if checkpoint_every is not None and rule is RuleName.epoch:
        raise UsageError(
            "--checkpoint-every applies to the batch and sample rules: the epoch rule's only"
            " update is the epoch, after which --checkpoint already saves one."
        )
    world = world_from_env()  # under torchrun: one of several processes
    if world.distributed and checkpoint_every is not None:
        raise UsageError(
            "--checkpoint-every is not available under torchrun: each process trains a"
            " share of the epoch, so checkpoints are written at epoch ends only."
        )
    outputs = ((json_out, "--json"), (save, "--save"), (checkpoint, "--checkpoint"))
    if world.is_main:  # the process that writes them
        for path, option in outputs:
            if path is not None:
                check_writable(path, option)

    # Imported here, not at the top: --help must not pay for torch (seconds) or rich.
    import torch
    from rich.console import Console

    from mnist_rules.cli.progress import RichReporter, count
    from mnist_rules.training import checkpoint as ckpt
    from mnist_rules.training.config import TrainConfig
    from mnist_rules.training.distributed import stop as stop_process_group
    from mnist_rules.training.interrupts import stop_after_update_on_signals
    from mnist_rules.training.loop import train as run_training

    config = TrainConfig(
        rule=rule,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        engine=engine,
        step_mode=step_mode,
        data_mode=data_mode,
        stream_block=stream_block,
        stream_buffers=stream_buffers,
        device=device,
        dataset=dataset,
        data_dir=data_dir,
        train_subset=train_subset,
    )
    state = ckpt.read(resume) if resume is not None else None  # a bad file fails first
    saver = None
    if checkpoint is not None and world.is_main:
        saver = ckpt.Checkpointer(checkpoint, checkpoint_every)
    console = Console(quiet=quiet or not world.is_main, highlight=False, soft_wrap=True)
    if state is not None:
        at = state["position"]
        console.print(
            f"resuming from {resume}: {count(at['epochs'], 'epoch')} finished"
            + (
                f", epoch {at['epochs'] + 1} stopped after {count(at['updates'], 'update')}"
                if at["samples"]
                else ""
            )
        )
    try:
        with stop_after_update_on_signals(), RichReporter(epochs, console) as reporter:
            trained = run_training(
                config,
                reporter=reporter,
                checkpoint=saver,
                resume=state,
                resume_path=resume,
                world=world,
            )
    except RunStopped as stopped:  # diverged or interrupted: keep the finished epochs
        kept = stopped.result is not None and stopped.result.epochs and world.is_main
        if json_out is not None and kept:
            stopped.result.write(json_out)
            stopped.args = (f"{stopped} The finished epochs' results are in {json_out}.",)
        if isinstance(stopped, Interrupted) and checkpoint is None:
            stopped.args = (
                f"{stopped} No --checkpoint was given, so this run cannot be resumed;"
                " give --checkpoint PATH to be able to.",
            )
        raise
    finally:  # train() leaves the group itself; this covers a run that failed starting
        stop_process_group()
    result = trained.result

    if json_out is not None and world.is_main:
        result.write(json_out)
    if save is not None and world.is_main:
        with atomic_path(save) as tmp:
            torch.save(trained.engine.weights(), tmp)

    final, best = result.final, result.best
    console.print(
        f"final test accuracy {final.test_acc:.2f}% after {count(len(result.epochs), 'epoch')},"
        f" {seconds(result.total_train_seconds)} s of training"
        + (f"; best {best.test_acc:.2f}% at epoch {best.epoch}" if best is not final else "")
    )
    for path, what in ((json_out, "results"), (save, "weights"), (checkpoint, "checkpoint")):
        if path is not None:
            console.print(f"{what} written to {path}")
    if require_acc is not None and final.test_acc < require_acc:
        raise UserError(
            f"The final test accuracy {final.test_acc:.2f}% is below --require-acc"
            f" {require_acc:g}%."
        )
