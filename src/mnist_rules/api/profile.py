"""`profile`: the body of `mnist-rules profile`, callable from Python. Where an update
step's time goes (data, host-to-device transfer, compute, overhead), measured under
torch.profiler (report.profiling). Returns a ProfileResult, or with
compare_transfers=True a TransferComparison of four."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.atomic import check_writable
from mnist_rules.config.options import PROFILE
from mnist_rules.config.rules import RULES
from mnist_rules.data.modes import DataMode
from mnist_rules.engines.modes import Transfer
from mnist_rules.errors import UsageError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.profile_results import ProfileResult, TransferComparison

NO_TRANSFER_ON_CPU = (
    "cpu: there is no host-to-device transfer to measure, so --transfer and --pinned"
    " change nothing; splitting the time into data, compute and overhead."
)


@takes(PROFILE, "ProfileResult | TransferComparison")
def profile(o) -> ProfileResult | TransferComparison:
    """The options are `mnist-rules profile`'s (docs/api.md). Returns a ProfileResult, or
    with compare_transfers=True a TransferComparison of four."""
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
    with heavy_imports():
        from rich.console import Console

        from mnist_rules.api.profile_results import ProfileResult, TransferComparison
        from mnist_rules.config.resolve import data_mode_for
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.data import mnist as data_mod
        from mnist_rules.device import resolve_device
        from mnist_rules.report.profiling import DEFAULT_TRACE_STEPS
        from mnist_rules.report.profiling import profile as run_profile
        from mnist_rules.report.progress import live_display
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
    rule = RULES[o.rule]
    steps = o.steps or rule.profile_steps
    warmup = rule.profile_warmup if o.warmup is None else o.warmup
    root = data_mod.resolve_data_dir(o.data_dir)
    # Checked as a run, and the data read as its data mode needs (the transfers compare
    # ways to copy a resident set).
    resident = o.compare_transfers or o.transfer is not None
    first = TrainConfig.from_options(
        o, pinned=bool(o.pinned), data_mode=DataMode.resident if resident else o.data_mode
    )
    streamed = data_mode_for(first, root) is DataMode.stream
    data = data_mod.load(o.dataset, root, o.train_subset, stream=streamed)

    paths = [(t, p) for t in Transfer for p in (False, True)] if o.compare_transfers else []
    results = []
    for path_transfer, path_pinned in paths or [(o.transfer, bool(o.pinned))]:
        config = TrainConfig.from_options(
            o,
            transfer=path_transfer,
            pinned=path_pinned,
            data_mode=DataMode.stream if streamed else DataMode.resident,
        )
        run = TrainingRun(config, data)
        what = f"{run.engine.transfer.value}, {'pinned' if run.engine.pinned else 'pageable'}"
        if streamed:
            what = f"data streamed in blocks of {o.stream_block:,}"
        status = f"profiling {steps:,} {rule.name}-rule updates ({what})"
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
