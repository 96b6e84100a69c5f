"""The engines' names, step modes and ways to transfer inputs: no torch here, so that
--help can list them. Which mode runs is settled in config.resolve."""

from __future__ import annotations

from enum import Enum


class EngineName(str, Enum):
    torch = "torch"
    tuned = "tuned"


class Transfer(str, Enum):
    """How training inputs reach the device: copied each step (the reference's way),
    or moved once and kept there."""

    per_step = "per-step"
    resident = "resident"


class StepMode(str, Enum):
    """How the tuned engine runs its steps: op by op (eager), as CUDA graphs (graph),
    through torch.compile (compile; engines.tuned.capture), or, for per-sample SGD, as
    compiled steps (kernel: numba's loop per block on the CPU, engines.tuned.numba_sample_sgd;
    Triton's fused kernels on CUDA, engines.tuned.triton_sample_sgd).
    auto: the fastest measured for the device and rule (config.resolve)."""

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
        """Whether steps are captured units that need static buffers (engines.tuned.capture):
        those cannot stream, copy per step or all-reduce inside."""
        return self in (StepMode.graph, StepMode.compiled)
