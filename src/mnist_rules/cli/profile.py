"""`mnist-rules profile`: where an update step's time goes (data, host-to-device
transfer, compute, overhead), measured under torch.profiler (report.profiling)."""

from __future__ import annotations

from pathlib import Path

import typer

from mnist_rules.atomic import check_writable
from mnist_rules.cli import options
from mnist_rules.cli.errors import friendly_errors
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

NO_TRANSFER_ON_CPU = (
    "cpu: there is no host-to-device transfer to measure, so --transfer and --pinned"
    " change nothing; splitting the time into data, compute and overhead."
)


@friendly_errors
def profile(
    rule: RuleName = typer.Option(RuleName.sample, "--rule", help="The update rule to profile."),
    engine: EngineName = options.Engine,
    step_mode: StepMode = options.StepModeOption,
    device: DeviceChoice = options.Device,
    steps: int | None = typer.Option(
        None,
        "--steps",
        min=1,
        help="Update steps to profile. Default: 2,000 (sample), 200 (batch), 2 (epoch: an"
        " update is a whole epoch).",
    ),
    warmup: int | None = typer.Option(
        None,
        "--warmup",
        min=0,
        help="Update steps before measuring. Default: 100 (sample), 10 (batch), 1 (epoch).",
    ),
    transfer: Transfer | None = typer.Option(
        None,
        "--transfer",
        help="per-step: copy each step's input to the device on its own (the reference's"
        " way); resident: move the whole set once. Default: the engine's own way (torch:"
        " per-step, tuned: resident). CUDA only.",
    ),
    pinned: bool | None = typer.Option(
        None,
        "--pinned/--pageable",
        help="Copy from pinned (page-locked) or pageable host memory. Default: pageable."
        " CUDA only.",
        show_default=False,
    ),
    compare_transfers: bool = typer.Option(
        False,
        "--compare-transfers",
        help="Profile all four of per-step/resident x pinned/pageable and print them as"
        " one table (CUDA only).",
    ),
    trace: Path | None = typer.Option(
        None, "--trace", dir_okay=False, help="Write a Chrome/Perfetto trace here."
    ),
    trace_steps: int | None = typer.Option(
        None,
        "--trace-steps",
        min=1,
        help="Update steps in the trace (default 100, at most --steps): a long trace is"
        " hundreds of MB.",
    ),
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write the figures as JSON here (atomically)."
    ),
    data_mode: DataMode = options.DataModeOption,
    stream_block: int = options.StreamBlock,
    stream_buffers: int = options.StreamBuffers,
    dataset: DatasetName = options.Dataset,
    data_dir: Path | None = options.DataDir,
    train_subset: int | None = options.TrainSubset,
    seed: int = options.Seed,
    quiet: bool = options.Quiet,
) -> None:
    """Measure where one update step's time goes: data, transfer, compute, overhead."""
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules profile runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    if compare_transfers and (transfer is not None or pinned is not None or trace):
        raise UsageError(
            "--compare-transfers profiles every --transfer and --pinned/--pageable"
            " combination itself, four runs; drop --transfer, --pinned/--pageable and"
            " --trace (a trace is of one run)."
        )
    if data_mode is DataMode.stream and (compare_transfers or transfer is not None):
        raise UsageError(
            "--data-mode stream copies each block to the device its own way (pinned, on a"
            " side stream), so --transfer and --compare-transfers, which compare the ways"
            " of copying a resident set, do not apply. Drop one or the other."
        )
    if trace_steps is not None and trace is None:
        raise UsageError("--trace-steps sets the length of the trace; give --trace PATH too.")
    for path, option in ((trace, "--trace"), (json_out, "--json")):
        if path is not None:
            check_writable(path, option)

    # Imported here, not at the top: --help must not pay for torch (seconds) or rich.
    from rich.console import Console

    from mnist_rules.atomic import write_json
    from mnist_rules.cli.profile_report import comparison_table, parts_table
    from mnist_rules.data import mnist as data_mod
    from mnist_rules.device import resolve_device
    from mnist_rules.report.profiling import DEFAULT_STEPS, DEFAULT_TRACE_STEPS, DEFAULT_WARMUP
    from mnist_rules.report.profiling import profile as run_profile
    from mnist_rules.training.config import TrainConfig, resolve_data_mode
    from mnist_rules.training.loop import TrainingRun

    resolved = resolve_device(device)
    if compare_transfers and resolved.type != "cuda":
        raise UsageError(
            "--compare-transfers compares host-to-device copies, and a CPU makes none."
            " Run it with a CUDA GPU (--device cuda)."
        )
    console = Console(quiet=quiet, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log or a pipe: room for the tables' columns
        console = Console(quiet=quiet, highlight=False, soft_wrap=True, width=120)
    if resolved.type != "cuda" and (transfer is not None or pinned is not None):
        console.print(NO_TRANSFER_ON_CPU)
    steps = steps or DEFAULT_STEPS[rule]
    warmup = DEFAULT_WARMUP[rule] if warmup is None else warmup
    root = data_mod.resolve_data_dir(data_dir)
    if compare_transfers or transfer is not None:  # they compare ways to copy a resident set
        data_mode = DataMode.resident
    data_mode = resolve_data_mode(data_mode, dataset, root, step_mode)
    streamed = data_mode is DataMode.stream
    data = data_mod.load(dataset, root, train_subset, stream=streamed)

    paths = [(t, p) for t in Transfer for p in (False, True)] if compare_transfers else []
    results = []
    for path_transfer, path_pinned in paths or [(transfer, bool(pinned))]:
        config = TrainConfig(
            rule=rule,
            engine=engine,
            step_mode=step_mode,
            device=device,
            dataset=dataset,
            seed=seed,
            transfer=path_transfer,
            pinned=path_pinned,
            data_mode=data_mode,
            stream_block=stream_block,
            stream_buffers=stream_buffers,
        )
        run = TrainingRun(config, data)
        what = f"{run.engine.transfer.value}, {'pinned' if run.engine.pinned else 'pageable'}"
        if streamed:
            what = f"data streamed in blocks of {stream_block:,}"
        with console.status(f"profiling {steps:,} {rule.value}-rule updates ({what})"):
            traced = trace_steps or DEFAULT_TRACE_STEPS
            results.append(run_profile(run, steps, warmup, trace, traced))

    if json_out is not None:
        if compare_transfers:
            write_json(json_out, {"runs": [r.to_dict() for r in results]})
        else:
            results[0].write(json_out)
    if compare_transfers:
        console.print(comparison_table(results))
    else:
        console.print(parts_table(results[0]))
    for path, what in ((trace, "trace"), (json_out, "figures")):
        if path is not None:
            console.print(f"{what} written to {path}")
