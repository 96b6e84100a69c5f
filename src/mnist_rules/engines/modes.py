"""The engines' names and step modes, and the choice of the step mode that runs: no
torch here, so that --help can list them."""

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
    through torch.compile (compile; engines.capture), or, for per-sample SGD, as
    compiled steps (kernel: numba's loop per block on the CPU, engines.kernel_sample_sgd;
    Triton's fused kernels on CUDA, engines.triton_sample_sgd).
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
    CUDA no mode has been measured faster yet (the Triton kernel steps included: auto
    stays eager there until they are). kernel runs numba's compiled loop on the CPU and
    Triton's fused steps on CUDA; with the other rules it is eager, as documented (no
    warning). A mode that cannot run here falls back to eager."""
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
        why = _why_no_kernel(device_type)
        if why is not None:
            return StepMode.eager, f"{asked}: {why}."
    return requested, None


def _why_no_kernel(device_type: str) -> str | None:
    """Why the compiled per-sample steps cannot run on this device type, and what runs
    instead; None when they can: numba's loop on the CPU, Triton's steps on CUDA."""
    if device_type == "cpu":
        from mnist_rules.engines.numba_sample_steps import available

        missing = available()
        then = "the tuned engine runs eagerly (pip install numba for the compiled per-sample loop)"
        return None if missing is None else f"{missing}; {then}"
    if device_type != "cuda":
        return (
            "the compiled per-sample steps run on the CPU (numba) or on CUDA (Triton); the"
            f" tuned engine runs eagerly on {device_type}"
        )
    from mnist_rules.engines.triton_sample_steps import available, interpreting

    missing = available()
    if missing is None and interpreting():  # a leftover from a session without a GPU
        missing = (
            "TRITON_INTERPRET=1 is set, which would run Triton's kernels in its interpreter,"
            " program by program on the host, at hours an epoch (unset it)"
        )
    return None if missing is None else f"{missing}; the tuned engine runs eagerly on cuda"
