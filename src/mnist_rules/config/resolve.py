"""The one place a run's modes are settled: which engine, device, step mode, data mode and
transfer will actually run, before any engine is built, each fallback with its one-line
warning. The loop builds the engine from the result (RunModes), and profile and the
results JSON report it.

- `refuse` (at TrainConfig's construction, and with the torchrun job before joining
  it): the combinations no fallback can mend.
- `data_mode_for`: step 4 alone, for whoever reads the data before the run is built.
- `settle`: every step, once the training set's size is known.

No torch at import: the engines' classes (and torch) are imported when a config is
checked or a run settled.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.data.modes import DataMode
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.engines.registry import engine_class
from mnist_rules.errors import UsageError, warn_fallback
from mnist_rules.world import SINGLE, World

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class RunModes:
    """What a run will actually run with."""

    engine: EngineName
    device: torch.device  # under torchrun, this process's
    step_mode: StepMode  # a fallback at a captured unit's first call is not seen here
    data_mode: DataMode  # resident or stream
    transfer: Transfer  # how inputs reach the device (profile's; a CPU copies nothing)
    pinned: bool  # copies from pinned host memory (CUDA only)
    compile_seconds: float = 0.0  # compiling the steps while settling: not training time


def refuse(config, world: World = SINGLE) -> None:
    """Refuse, before any data is read, what cannot run whatever the device: captured
    steps (graph, compile) with inputs that move (stream mode, per-step copies) or an
    all-reduce inside (torchrun), and a step mode the engine does not take. Reads the
    engine's class (config.engine's module, and torch, are imported here)."""
    mode = StepMode(config.step_mode)
    if config.data_mode is DataMode.stream and mode.captures:
        raise UsageError(
            f"--data-mode stream cannot run --step-mode {mode.value}: its captured steps need"
            " their data at fixed addresses. Use --step-mode eager, kernel or auto."
        )
    if config.transfer is Transfer.per_step and mode.captures:
        raise UsageError(
            f"Per-step transfer cannot run --step-mode {mode.value}: a captured step cannot"
            " copy from the host memory of a different batch each time. Use"
            " --step-mode eager."
        )
    cls = engine_class(config.engine)
    if mode is not StepMode.auto and mode not in cls.step_modes:
        takers = [name.value for name in EngineName if mode in engine_class(name).step_modes]
        takes = " or ".join(m.value for m in sorted(cls.step_modes, key=list(StepMode).index))
        raise UsageError(
            f"--step-mode {mode.value} applies to --engine {' or '.join(takers) or 'none'}:"
            f" {cls.why_these_modes} ({takes})."
        )
    if world.distributed and mode.captures:
        raise UsageError(
            f"--step-mode {mode.value} is not supported under torchrun yet: a step's"
            " all-reduce would have to be captured with it. Use --step-mode eager or auto."
        )


def data_mode_for(config, root: Path, world: World = SINGLE) -> DataMode:
    """Step 4 alone: --data-mode auto made concrete, for reading the data. Stream only a
    set that would not fit in memory (once per process on this host), and only for
    steps that are not captured; others as given."""
    from mnist_rules.data import mnist as data_mod
    from mnist_rules.data import stream as streaming

    mode = DataMode(config.data_mode)
    if mode is not DataMode.auto:
        return mode
    if StepMode(config.step_mode).captures:
        return DataMode.resident
    images_file = data_mod.train_images_file(config.dataset, root)
    return DataMode(streaming.auto_data_mode(images_file, world.local_size))


def settle(
    config,
    *,
    samples_per_update: int,
    streamed: bool,
    world: World = SINGLE,
    joined: torch.device | None = None,
) -> RunModes:
    """The modes `config` runs with, on a training set cut into updates of
    `samples_per_update` (`streamed`: the set was read in stream mode; `joined`: under
    torchrun, the device this process joined the job with)."""
    from mnist_rules.device import resolve_device

    # 1. The engine: its class declares the step modes it takes (refused otherwise, at
    #    TrainConfig's construction) and its own way to transfer inputs.
    cls = engine_class(config.engine)
    # 2. The device: auto takes a CUDA GPU when present; cuda without one is an error.
    device = joined or resolve_device(config.device)
    # 3. The step mode, then whether it can run here (else eager, with one warning).
    #    Under torchrun an update ends in an all-reduce, which only the eager steps make;
    #    an update cut into several chunks (chunk_size) is accumulated, eager's too.
    whole = samples_per_update <= config.chunk_size
    samples = samples_per_update if whole and not world.distributed else 0
    step_mode, why = resolve_step_mode(config.step_mode, config.engine, device.type, samples)
    if why is not None:
        warnings.warn(why, RuntimeWarning, stacklevel=2)
    seconds = 0.0
    if step_mode is StepMode.kernel:  # compiled (or loaded from a cache) now
        try:
            seconds = cls.prepare_kernel(device, samples_per_update)
        except Exception as error:  # numba's and triton's errors have no common base
            what = f"--step-mode kernel: compiling {cls.kernel_steps_name(device.type)} failed"
            warn_fallback(what, error, f"the {cls.name} engine runs eagerly")
            step_mode = StepMode.eager
    # 4. The data mode: as the data was read (data_mode_for, before reading it).
    data_mode = DataMode.stream if streamed else DataMode.resident
    if config.data_mode is DataMode.stream and not streamed:
        raise ValueError("stream mode needs data.load(..., stream=True)")
    # 5. The transfer: how inputs reach the device (the engine's own way unless asked),
    #    and whether from pinned memory (CUDA only; stream mode's ring always is).
    transfer = Transfer(config.transfer or cls.own_transfer)
    pinned = device.type == "cuda" and (bool(config.pinned) or streamed)
    return RunModes(config.engine, device, step_mode, data_mode, transfer, pinned, seconds)


def resolve_step_mode(
    requested: StepMode, engine, device_type: str, samples_per_update: int
) -> tuple[StepMode, str | None]:
    """Step 3: the step mode that will run, and a one-line warning when it is not the
    one asked for (`samples_per_update` 0: updates only the eager steps make).

    auto: kernel wherever the engine's compiled steps are measured faster than eager
    (`kernel_samples(faster=True)`: on the CPU per-sample SGD, 2.9-3.6x faster, and
    small batches up to where the eager GEMMs are as fast; docs/engines.md), eager
    otherwise: larger updates are GEMMs, and on CUDA no mode has been measured faster
    yet (the Triton kernel steps included: auto stays eager there until they are).
    kernel with updates larger than its compiled steps take is eager, as documented
    (no warning). A mode the engine says cannot run here (`cannot_run`) falls back to
    eager."""
    requested, cls = StepMode(requested), engine_class(engine)
    asked = f"--step-mode {requested.value}"
    compiled = 1 <= samples_per_update <= cls.kernel_samples(device_type)
    if requested is StepMode.auto:
        faster = samples_per_update <= cls.kernel_samples(device_type, faster=True)
        fastest = compiled and faster and StepMode.kernel in cls.step_modes
        requested = StepMode.kernel if fastest else StepMode.eager
    if requested is StepMode.eager:
        return StepMode.eager, None
    if requested is StepMode.kernel and samples_per_update != 1 and not compiled:
        return StepMode.eager, None  # GEMM steps: the kernel mode runs them as eager does
    why = cls.cannot_run(requested, device_type)
    if why is not None:
        return StepMode.eager, f"{asked}: {why}."
    return requested, None
