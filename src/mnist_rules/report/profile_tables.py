"""What `mnist-rules profile` prints: the split of a step's time as a table with bars,
and the four transfer paths side by side."""

from __future__ import annotations

from rich.bar import Bar
from rich.table import Table

from mnist_rules.report.profiling import PARTS, ProfileResult

BAR_WIDTH = 24
PART_MEANING = {
    "data": "host: fetch, decode",
    "stall": "waiting for the stream's next block",
    "transfer": "host-to-device copies",
    "compute": "forward, backward, update",
    "overhead": "Python, dispatch, launches",
}


def shown_parts(results: list[ProfileResult]) -> list[str]:
    """The parts to print: stall only where a set was streamed (else it is zero)."""
    streamed = any(r.data_mode == "stream" for r in results)
    return [part for part in PARTS if part != "stall" or streamed]


def _steps(r: ProfileResult) -> str:
    return "" if r.engine == "torch" else f" ({r.step_mode} steps)"


def _transfer_line(r: ProfileResult) -> str:
    if r.device != "cuda":
        return "no host-to-device transfer on a CPU"
    if r.transfer_mode == "stream":
        return (
            f"{r.transfer_count:,} host-to-device block copies on a side stream, overlapping"
            f" the compute ({r.transfer_bytes:,} bytes, from pinned memory)"
        )
    if not r.transfer_count:
        return f"no host-to-device copies in the measured steps ({r.transfer_mode})"
    return (
        f"{r.transfer_count:,} host-to-device copies ({r.transfer_count / r.steps:g} per step),"
        f" {r.transfer_bytes:,} bytes, from {r.transfer_source} memory"
    )


def parts_table(r: ProfileResult) -> Table:
    """One row per part: microseconds per update step, share of the step, and a bar."""
    table = Table(
        title=f"{r.rule} rule, {r.engine} engine{_steps(r)} on {r.device} ({r.device_name}),"
        f" data {r.data_mode}: {r.steps:,} update steps after {r.warmup:,} warm-up",
        title_justify="left",
    )
    table.add_column("part")
    table.add_column("µs / step", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", width=BAR_WIDTH)
    table.add_column("what it is")
    for part in shown_parts([r]):
        us = r.part_us(part)
        share = us / r.per_step_us if r.per_step_us else 0.0
        bar = Bar(size=1.0, begin=0.0, end=share, width=BAR_WIDTH)
        table.add_row(part, f"{us:,.1f}", f"{share:.0%}", bar, PART_MEANING[part])
        if part == "compute" and (r.block_gemms_us or r.steps_us):  # the kernel step mode
            for name, sub_us, meaning in (
                ("  block GEMMs", r.block_gemms_us, "P, Gram, W1's update (torch)"),
                ("  steps", r.steps_us, "the compiled loop"),
            ):
                sub = sub_us / r.per_step_us if r.per_step_us else 0.0
                table.add_row(name, f"{sub_us:,.1f}", f"{sub:.0%}", "", meaning)
    table.add_row("total", f"{r.per_step_us:,.1f}", "100%", "", "one update step")
    table.caption = (
        f"{_transfer_line(r)}. Projected: {r.epoch_seconds_projected:,.1f} s for a"
        f" {r.updates_per_epoch:,}-update epoch. Under torch.profiler (the trace) a step"
        f" took {r.per_step_us_profiled:,.1f} µs."
    )
    table.caption_justify = "left"
    return table


def comparison_table(results: list[ProfileResult]) -> Table:
    """The transfer paths side by side (--compare-transfers)."""
    first = results[0]
    table = Table(
        title=f"{first.rule} rule, {first.engine} engine on {first.device_name}: µs per"
        f" update step by transfer path ({first.steps:,} steps each)",
        title_justify="left",
    )
    parts = shown_parts(results)
    for name in ("transfer", "memory", *parts, "total", "copies", "epoch s"):
        table.add_column(name, justify="left" if name in ("transfer", "memory") else "right")
    for r in results:
        table.add_row(
            r.transfer_mode,
            "pinned" if r.pinned else "pageable",
            *(f"{r.part_us(part):,.1f}" for part in parts),
            f"{r.per_step_us:,.1f}",
            f"{r.transfer_count:,}",
            f"{r.epoch_seconds_projected:,.1f}",
        )
    return table
