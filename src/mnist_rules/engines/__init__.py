"""Engines: interchangeable implementations of one training step, behind the small
interface in `engines.base`. Engine modules import torch, so they are loaded only
when an engine is created."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mnist_rules.data import MnistData
    from mnist_rules.distributed import World
    from mnist_rules.engines.base import Engine
    from mnist_rules.stream import BlockStream


class EngineName(str, Enum):
    torch = "torch"
    tuned = "tuned"


class Transfer(str, Enum):
    """How training inputs reach the device: copied each step (the reference's way),
    or moved once and kept there."""

    per_step = "per-step"
    resident = "resident"


class DataMode(str, Enum):
    """Where the training images live: read whole into memory (resident), memory-
    mapped and streamed a block at a time (stream; stream.py), or whichever fits
    (auto: stream when the images would take more than half the available memory)."""

    auto = "auto"
    resident = "resident"
    stream = "stream"


# Stream mode's defaults (here, not in stream.py, so that --help need not import torch).
# Samples per block: 7.8 MB of MNIST images. Large enough that a block is one long
# sequential read; small enough that the ring in memory is nothing beside torch.
STREAM_BLOCK = 10_000
# Buffers in the ring: the block being trained on, and the next one being read.
STREAM_BUFFERS = 2


class StepMode(str, Enum):
    """How the tuned engine runs its steps: op by op (eager), as CUDA graphs (graph),
    through torch.compile (compile; engines.capture), or, for per-sample SGD, as one
    compiled loop per block (kernel: numba on the CPU; engines.kernel_sample_sgd).
    auto: the fastest measured for the device and rule (resolve_step_mode)."""

    auto = "auto"
    eager = "eager"
    graph = "graph"
    compiled = "compile"
    kernel = "kernel"

    @classmethod
    def _missing_(cls, value):
        return cls.compiled if value == "compiled" else None  # the name before 0.2

    @property
    def captures(self) -> bool:
        """Whether steps are captured units that need static buffers (engines.capture):
        those cannot stream, copy per step or all-reduce inside."""
        return self in (StepMode.graph, StepMode.compiled)


def resolve_step_mode(
    requested: StepMode, engine: EngineName, device_type: str, per_sample: bool
) -> tuple[StepMode, str | None]:
    """The step mode that will run, and a one-line warning when it is not the one asked
    for. auto: kernel for per-sample SGD on the CPU (measured 2.9-3.6x faster than
    eager; docs/engines.md), eager otherwise: the other rules' steps are GEMMs, and on
    CUDA no mode has been measured faster yet. kernel with the other rules is eager, as
    documented (no warning). A mode that cannot run here falls back to eager."""
    requested = StepMode(requested)
    asked = f"--step-mode {requested.value}"
    if engine is EngineName.torch or requested is StepMode.eager:
        return StepMode.eager, None  # the torch engine refuses others (TrainConfig)
    if requested is StepMode.auto:
        if not (per_sample and device_type == "cpu"):
            return StepMode.eager, None
        requested = StepMode.kernel
    if requested is StepMode.kernel and not per_sample:
        return StepMode.eager, None  # GEMM steps: the kernel mode runs them as eager does
    if requested is StepMode.graph and device_type != "cuda":
        why = f"CUDA graphs need a CUDA device; the tuned engine runs eagerly on {device_type}"
        return StepMode.eager, f"{asked}: {why}."
    if requested is StepMode.kernel:
        if device_type != "cpu":
            return StepMode.eager, (
                f"{asked}: the compiled per-sample loop runs on the CPU (numba);"
                f" the tuned engine runs eagerly on {device_type}."
            )
        from mnist_rules.engines.numba_sample_steps import available

        missing = available()
        if missing is not None:
            return StepMode.eager, (
                f"{asked}: {missing}; the tuned engine runs eagerly"
                " (pip install numba for the compiled per-sample loop)."
            )
    return requested, None


def create_engine(
    name: EngineName,
    model: nn.Module,
    data: MnistData,
    device: torch.device,
    lr: float,
    step_mode: StepMode = StepMode.eager,
    transfer: Transfer | None = None,
    pinned: bool = False,
    world: World | None = None,
    stream: BlockStream | None = None,
) -> Engine:
    """`transfer` None: the engine's own way (torch: per step; tuned: resident).
    `pinned`: copy from pinned host memory (CUDA only). `world`: the torchrun job
    whose processes sum their gradients each update (None: one process)."""
    if name is EngineName.torch:
        if step_mode is not StepMode.eager:
            raise ValueError("the torch engine runs eagerly only")
        from mnist_rules.engines.torch_engine import TorchEngine

        return TorchEngine(model, data, device, lr, transfer, pinned, world=world, stream=stream)
    if name is EngineName.tuned:
        from mnist_rules.engines.tuned_engine import TunedEngine

        return TunedEngine(
            model,
            data,
            device,
            lr,
            step_mode,
            transfer=transfer,
            pinned=pinned,
            world=world,
            stream=stream,
        )
    raise ValueError(f"unknown engine {name!r}")
