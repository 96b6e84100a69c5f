"""`profile`: the body of `mnist-rules profile`, callable from Python. Where an update
step's time goes (data, host-to-device transfer, compute, overhead), measured under
torch.profiler (report.profiling). Returns a ProfileResult, or with
compare_transfers=True a TransferComparison of four."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.api.specs import PROFILE
from mnist_rules.atomic import check_writable
from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.errors import UsageError
from mnist_rules.training.distributed import world_from_env
from mnist_rules.training.rules import RuleName

if TYPE_CHECKING:
    from mnist_rules.api.profile_results import ProfileResult, TransferComparison

D = PROFILE.default
NO_TRANSFER_ON_CPU = (
    "cpu: there is no host-to-device transfer to measure, so --transfer and --pinned"
    " change nothing; splitting the time into data, compute and overhead."
)


def profile(
    *,
    rule: RuleName | str = D.rule,
    engine: EngineName | str = D.engine,
    step_mode: StepMode | str = D.step_mode,
    device: DeviceChoice | str = D.device,
    steps: int | None = D.steps,
    warmup: int | None = D.warmup,
    transfer: Transfer | str | None = D.transfer,
    pinned: bool | None = D.pinned,
    compare_transfers: bool = D.compare_transfers,
    trace: Path | str | None = D.trace,
    trace_steps: int | None = D.trace_steps,
    json_out: Path | str | None = D.json_out,
    data_mode: DataMode | str = D.data_mode,
    stream_block: int = D.stream_block,
    stream_buffers: int = D.stream_buffers,
    dataset: DatasetName | str = D.dataset,
    data_dir: Path | str | None = D.data_dir,
    train_subset: int | None = D.train_subset,
    seed: int = D.seed,
    quiet: bool = D.quiet,
) -> ProfileResult | TransferComparison:
    """Measure where one update step's time goes: data, transfer, compute, overhead.
    The options are `mnist-rules profile`'s (docs/api.md)."""
    o = PROFILE.check(locals())  # first: nothing but the arguments is defined yet
    if world_from_env().distributed:
        raise UsageError(
            "mnist-rules profile runs in one process; under torchrun, run `mnist-rules train`"
            " (the epoch and batch rules train data-parallel)."
        )
    if o.compare_transfers and (o.transfer is not None or o.pinned is not None or o.trace):
        raise UsageError(
            "--compare-transfers profiles every --transfer and --pinned/--pageable"
            " combination itself, four runs; drop --transfer, --pinned/--pageable and"
            " --trace (a trace is of one run)."
        )
    if o.data_mode is DataMode.stream and (o.compare_transfers or o.transfer is not None):
        raise UsageError(
            "--data-mode stream copies each block to the device its own way (pinned, on a"
            " side stream), so --transfer and --compare-transfers, which compare the ways"
            " of copying a resident set, do not apply. Drop one or the other."
        )
    if o.trace_steps is not None and o.trace is None:
        raise UsageError("--trace-steps sets the length of the trace; give --trace PATH too.")
    for path, option in ((o.trace, "--trace"), (o.json_out, "--json")):
        if path is not None:
            check_writable(path, option)

    # Imported here, not at the top: importing mnist_rules must not pay for torch or rich.
    from rich.console import Console

    from mnist_rules.api.profile_results import ProfileResult, TransferComparison
    from mnist_rules.cli.progress import live_display
    from mnist_rules.data import mnist as data_mod
    from mnist_rules.device import resolve_device
    from mnist_rules.report.profiling import DEFAULT_STEPS, DEFAULT_TRACE_STEPS, DEFAULT_WARMUP
    from mnist_rules.report.profiling import profile as run_profile
    from mnist_rules.training.config import TrainConfig, resolve_data_mode
    from mnist_rules.training.loop import TrainingRun

    resolved = resolve_device(o.device)
    if o.compare_transfers and resolved.type != "cuda":
        raise UsageError(
            "--compare-transfers compares host-to-device copies, and a CPU makes none."
            " Run it with a CUDA GPU (--device cuda)."
        )
    console = Console(quiet=o.quiet, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log, a pipe or a notebook: room for the tables' columns
        console = Console(quiet=o.quiet, highlight=False, soft_wrap=True, width=120)
    if resolved.type != "cuda" and (o.transfer is not None or o.pinned is not None):
        console.print(NO_TRANSFER_ON_CPU)
    steps = o.steps or DEFAULT_STEPS[o.rule]
    warmup = DEFAULT_WARMUP[o.rule] if o.warmup is None else o.warmup
    root = data_mod.resolve_data_dir(o.data_dir)
    data_mode = o.data_mode
    if o.compare_transfers or o.transfer is not None:  # they compare ways to copy a resident set
        data_mode = DataMode.resident
    data_mode = resolve_data_mode(data_mode, o.dataset, root, o.step_mode)
    streamed = data_mode is DataMode.stream
    data = data_mod.load(o.dataset, root, o.train_subset, stream=streamed)

    paths = [(t, p) for t in Transfer for p in (False, True)] if o.compare_transfers else []
    results = []
    for path_transfer, path_pinned in paths or [(o.transfer, bool(o.pinned))]:
        config = TrainConfig(
            rule=o.rule,
            engine=o.engine,
            step_mode=o.step_mode,
            device=o.device,
            dataset=o.dataset,
            seed=o.seed,
            transfer=path_transfer,
            pinned=path_pinned,
            data_mode=data_mode,
            stream_block=o.stream_block,
            stream_buffers=o.stream_buffers,
        )
        run = TrainingRun(config, data)
        what = f"{run.engine.transfer.value}, {'pinned' if run.engine.pinned else 'pageable'}"
        if streamed:
            what = f"data streamed in blocks of {o.stream_block:,}"
        status = f"profiling {steps:,} {o.rule.value}-rule updates ({what})"
        # A spinner where one can be drawn (rich's in Jupyter needs ipywidgets).
        with console.status(status) if live_display(console) else contextlib.nullcontext():
            traced = o.trace_steps or DEFAULT_TRACE_STEPS
            results.append(ProfileResult.of(run_profile(run, steps, warmup, o.trace, traced)))

    result = TransferComparison(results) if o.compare_transfers else results[0]
    if o.json_out is not None:
        result.write(o.json_out)
    for renderable, soft_wrap in result.parts():
        console.print(renderable, soft_wrap=soft_wrap)
    for path, what in ((o.trace, "trace"), (o.json_out, "figures")):
        if path is not None:
            console.print(f"{what} written to {path}")
    return result
