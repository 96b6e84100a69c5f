"""`mnist-rules profile`: where an update step's time goes.

Runs `steps` updates of one rule after `warmup` updates, twice. The first run is
timed with the engines' named regions (engines.regions) summing their wall time,
which costs well under a microsecond per region; it gives the per-step time and
its split:

- data: host-side fetching and decoding: the data regions (the torch engine's
  DataLoader: dataset indexing, PIL, ToTensor, collation; the tuned engine's gather
  and scaling), less the stall;
- stall (stream mode): the time the training waited for its data: on the host, for
  the reader thread's next block; on CUDA also the device's waits for a block's copy
  (CUDA events around each wait). Zero when the set is resident;
- transfer: host-to-device copies: the Memcpy HtoD events of the profiled run (their
  count and device time; pinned or pageable, from the event's name). None on a CPU;
- compute: on CUDA, the device's kernel time in the profiled run; on a CPU, the time
  in the forward, backward and update regions (the ops, and the Python between them).
  The kernel step mode's per-sample SGD has two regions instead, reported apart too:
  the block's torch GEMMs (block_gemms) and the compiled steps (steps);
- overhead: the rest of the step: Python, dispatch, kernel launches, synchronisation,
  the loop's bookkeeping.

The second run is under torch.profiler, for the trace and the device's events. The
profiler costs about a microsecond for every op it records, so its own run is slower
(reported as per_step_us_profiled) and is not the one split.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile

import mnist_rules
from mnist_rules.atomic import atomic_path, write_json
from mnist_rules.data.modes import DataMode
from mnist_rules.engines.regions import BLOCK_GEMMS, COMPUTE, DATA, EPOCH_START, STEPS
from mnist_rules.training.loop import TrainingRun

# Updates profiled, and warm-up updates, by default: each rule's entry says
# (config/rules.py: profile_steps, profile_warmup).
# Update steps in a --trace: enough to read, small enough to open (a 2,000-step trace of
# the torch engine's sample rule is 120 MB).
DEFAULT_TRACE_STEPS = 100
SCHEMA_VERSION = 3  # 2: data_mode, stall_us; 3: step_mode, block_gemms_us, steps_us
PARTS = ("data", "stall", "transfer", "compute", "overhead")
NOTHING = contextlib.nullcontext()
# Kineto logs stage lines, and on machines without a GPU an error line, every time a
# profiler starts; silenced unless the user set a level (the tool reports its own).
os.environ.setdefault("KINETO_LOG_LEVEL", "6")


@dataclass
class ProfileResult:
    rule: str
    engine: str
    device: str
    device_name: str
    steps: int  # updates profiled
    warmup: int
    transfer_mode: str  # per-step, resident or stream; none on a CPU
    data_mode: str  # resident or stream
    pinned: bool
    per_step_us: float  # wall time per update (regions timed): the parts add up to it
    data_us: float
    stall_us: float  # waiting for data (stream mode): host and device waits
    transfer_us: float
    compute_us: float
    overhead_us: float
    transfer_bytes: int  # host-to-device bytes copied in the profiled updates
    transfer_count: int  # Memcpy HtoD events in the profiled updates
    transfer_source: str | None  # pinned, pageable, mixed, or None without copies
    per_step_us_profiled: float  # the same updates under torch.profiler (slower)
    step_mode: str  # how the steps ran (engines.StepMode)
    block_gemms_us: float  # kernel step mode, per-sample SGD: compute's block GEMMs
    steps_us: float  # and its compiled steps (both 0.0 otherwise)
    updates_per_epoch: int
    epoch_seconds_projected: float  # per_step_us x updates_per_epoch
    threads: int
    torch_version: str
    mnist_rules_version: str
    schema_version: int = SCHEMA_VERSION

    def part_us(self, part: str) -> float:
        return getattr(self, f"{part}_us")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        write_json(path, self.to_dict())


def endless_steps(run: TrainingRun) -> Iterator[tuple[Any, Any]]:
    """(batch, chunk) pairs from the run's epochs, one after another, for ever. Each
    epoch is bracketed as the loop brackets it; closing the generator ends the one in
    progress (the engine applies what it held back, and gives back its threads)."""
    engine = run.engine
    for _ in itertools.count():
        chunks, order = run.chunks, run.next_order()
        run.ledger.start_epoch()  # each epoch's losses afresh, as the loop keeps them
        try:
            engine.start_epoch(order, chunks)
            yield from zip(engine.batches(order, chunks), chunks, strict=True)
        finally:
            engine.end_epoch()


def _updates(run: TrainingRun, steps: Iterator, count: int) -> None:
    """`count` updates: the chunks up to and including each update's last."""
    engine, region = run.engine, run.engine.regions
    for _ in range(count):
        while True:
            # The torch engine's DataLoader loads as it iterates; the tuned engine marks
            # its own data work (engines.regions), which may run inside next().
            with region(DATA) if engine.loads_in_batches else NOTHING:
                batch, chunk = next(steps)
            engine.step(batch, chunk)
            if chunk.last:
                break


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: TrainingRun, steps: Iterator, count: int) -> float:
    device = run.engine.device
    _synchronize(device)
    start = time.perf_counter()
    _updates(run, steps, count)
    run.engine.flush_steps()  # steps held back for one call: they are in this window
    _synchronize(device)
    return time.perf_counter() - start


def device_split(events) -> dict[str, Any]:
    """From a profiler's FunctionEvents: device microseconds in host-to-device copies
    and in kernels, the copies' count, and their source memory.

    Left out: the regions' own ranges, which CUDA profiling also shows as device events
    (user annotations: compute is kernel time only), and the copies made at an epoch's
    start (engines.regions.EPOCH_START: once an epoch, not per step): _device_events."""
    transfer = compute = 0.0
    copies, sources = 0, set()
    for name, micros in _device_events(events):
        if _is_upload(name):
            transfer += micros
            copies += 1
            sources.add("pinned" if "Pinned" in name else "pageable")
        elif not name.startswith(("Memcpy", "Memset")):
            compute += micros
    source = None if not sources else sources.pop() if len(sources) == 1 else "mixed"
    return {"transfer": transfer, "compute": compute, "copies": copies, "source": source}


def _device_events(events) -> list[tuple[str, float]]:
    """(name, device microseconds) of each device event but the regions' own ranges and
    the host-to-device copies the epoch's start launched, found through the host op that
    launched each and that op's ancestors (`cpu_parent`). Every other device event
    counts, also one no host op launched (a CUDA graph's replay)."""
    device = [e for e in events if e.device_type == DeviceType.CUDA and not e.is_user_annotation]
    if events and hasattr(events[0], "linked_correlation_id"):  # torch 2.12 and later
        # Each device event names its host op: linked_correlation_id is the op's `id`.
        host_ops = {
            e.id: e
            for e in events
            if e.device_type == DeviceType.CPU and not e.linked_correlation_id
        }
        return [
            (e.name, e.device_time_total)
            for e in device
            if not (
                _is_upload(e.name)
                and _launched_in(host_ops.get(e.linked_correlation_id), EPOCH_START)
            )
        ]
    # torch 2.11 (the GPU machine's) links no event, but lists each host op's device
    # events as its `kernels` (name, device, duration): the epoch start's copies are
    # taken out of the device events by name and duration.
    at_start = Counter(
        (kernel.name, kernel.duration)
        for op in events
        if op.device_type == DeviceType.CPU and _launched_in(op, EPOCH_START)
        for kernel in op.kernels
        if _is_upload(kernel.name)
    )
    kept = []
    for e in device:
        key = (e.name, e.device_time_total)
        if at_start[key] > 0:
            at_start[key] -= 1
        else:
            kept.append(key)
    return kept


def _is_upload(name: str) -> bool:
    """Whether a device event is a host-to-device copy."""
    return name.startswith("Memcpy HtoD")


def _launched_in(op, region: str) -> bool:
    """Whether host op `op` (None: not found) ran inside `region`."""
    while op is not None:
        if op.name == region:
            return True
        op = op.cpu_parent
    return False


def profile(
    run: TrainingRun,
    steps: int,
    warmup: int,
    trace: Path | None = None,
    trace_steps: int = DEFAULT_TRACE_STEPS,
) -> ProfileResult:
    """Profile `steps` updates of `run` after `warmup`. Writes a Chrome trace of
    `trace_steps` profiled updates (at most `steps`) to `trace`."""
    engine, device, regions = run.engine, run.engine.device, run.engine.regions
    stream = engine.stream  # stream mode's reader, or None
    source = endless_steps(run)
    try:
        _updates(run, source, warmup)
        engine.flush_steps()  # the warm-up's steps run before the timed window, not in it
        regions.reset()
        regions.timing = True
        if stream is not None:
            stream.reset_stall()
            stream.timing = True
        try:
            wall = _timed(run, source, steps)
        finally:
            regions.timing = False
            if stream is not None:
                stream.timing = False
        host_stall = stream.stalled if stream is not None else 0.0
        device_stall = stream.device_stall() if stream is not None else 0.0
        copied = stream.copied_bytes if stream is not None else 0
        activities = [ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        regions.enabled = True
        try:
            with torch_profile(activities=activities) as prof:
                wall_profiled = _timed(run, source, steps)
            traced = prof
            if trace is not None and trace_steps < steps:  # a shorter window of its own
                with torch_profile(activities=activities) as traced:
                    _timed(run, source, trace_steps)
        finally:
            regions.enabled = False
    finally:
        source.close()  # ends the epoch in progress: the engine gives the threads back
    if trace is not None:
        with atomic_path(trace) as tmp:
            traced.export_chrome_trace(str(tmp))

    per_step = wall * 1e6 / steps
    seconds = regions.seconds
    stall_us = (host_stall + device_stall) * 1e6 / steps
    data_us = max(0.0, seconds[DATA] * 1e6 / steps - host_stall * 1e6 / steps)
    if device.type == "cuda":
        on_device = device_split(prof.events())
        transfer_us = on_device["transfer"] / steps
        compute_us = on_device["compute"] / steps
    else:  # nothing is copied; a no-op .to() is dispatch, and so overhead
        on_device = {"copies": 0, "source": None}
        transfer_us = 0.0
        compute_us = sum(seconds[name] for name in COMPUTE) * 1e6 / steps
    result = run.result
    return ProfileResult(
        rule=result.rule,
        engine=result.engine,
        device=result.device,
        device_name=result.device_name,
        steps=steps,
        warmup=warmup,
        transfer_mode=_transfer_mode(run),
        data_mode=result.data_mode,
        pinned=run.modes.pinned,
        per_step_us=per_step,
        data_us=data_us,
        stall_us=stall_us,
        transfer_us=transfer_us,
        compute_us=compute_us,
        # On CUDA the device works while the host goes on (and a stream's copies while
        # the device computes), so the parts can overlap.
        overhead_us=max(0.0, per_step - data_us - stall_us - transfer_us - compute_us),
        transfer_bytes=regions.copied_bytes + copied,
        transfer_count=on_device["copies"],
        transfer_source=on_device["source"],
        per_step_us_profiled=wall_profiled * 1e6 / steps,
        step_mode=result.step_mode,
        block_gemms_us=seconds[BLOCK_GEMMS] * 1e6 / steps,
        steps_us=seconds[STEPS] * 1e6 / steps,
        updates_per_epoch=run.updates_per_epoch,
        epoch_seconds_projected=per_step * run.updates_per_epoch / 1e6,
        threads=engine.threads,
        torch_version=torch.__version__,
        mnist_rules_version=mnist_rules.__version__,
    )


def _transfer_mode(run: TrainingRun) -> str:
    modes = run.modes
    if modes.device.type != "cuda":
        return "none"  # a CPU copies nothing, whatever the engine was asked for
    return "stream" if modes.data_mode is DataMode.stream else modes.transfer.value
