"""The kernel step mode's updates on CUDA as one persistent Triton launch a range of
updates (the model: Diamos et al. 2016, "Persistent RNNs": the weights stay on chip
across steps). triton_kernels.persistent has the kernel; this module its buffers and
its launch, and the fallback when its grid barrier gives up.

Why: the two-launch schedule (triton_sample_steps.py) pays, per update, a dependent
graph node (0.6 to 2 µs on an H200) and the head's loads of every slice's partial sums
from L2; one launch a block pays one grid barrier an update instead (docs/gpu.md has
the estimates and what was measured).

- At most as many programs as the GPU has SMs (13 for 400 units of 32): a barrier
  needs every program resident at once. More, and the steps run as two launches.
- The grid barrier is an atomic counter, zeroed before each launch, whose targets only
  increase (programs x updates passed), release on arrival, acquire on every read;
  the partial sums go through two alternating slots (a program may start the next
  update's forward while another still reads this one's), read with `.cg` loads.
- The spin is bounded (`spins` reads). When it runs out, the program sets a flag and
  returns; every other program sees the flag at its next barrier and returns too.
  The host reads the flag after each launch: if set, it restores the parameters it
  saved before the launch, runs the range as two launches an update, and warns once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from mnist_rules.engines.tuned.triton_sample_steps import (
    LAYER1_WARPS,
    Launch,
    StepBuffers,
    pow2,
    zero_buffers,
)

# Reads of the barrier's counter before a program gives up: about a second on an H200
# (an atomic's round trip to L2 is under a microsecond), where an update takes micro-
# seconds: a program that waits this long is waiting for one that is not resident.
SPINS = 1 << 20


@dataclass
class PersistentBuffers:
    """The persistent launch's own buffers beside the two-launch steps' (`steps`):
    dh2: (programs, b, H2 padded), each program's copy; partial: (2, programs, b, H2
    padded), two slots; counter and flag: one int32 each; saved: the parameters as
    they were before the launch, for the fallback."""

    steps: StepBuffers
    dh2: torch.Tensor
    partial: torch.Tensor
    counter: torch.Tensor
    flag: torch.Tensor
    saved: tuple[torch.Tensor, ...]
    spins: int = SPINS

    @classmethod
    def around(cls, steps: StepBuffers, spins: int = SPINS) -> PersistentBuffers:
        device, width = steps.pre.device, pow2(steps.w2.shape[0])
        programs, b = steps.programs, steps.samples
        ints = lambda: torch.zeros(1, dtype=torch.int32, device=device)  # noqa: E731
        return cls(
            steps,
            torch.zeros(programs, b, width, device=device),
            torch.zeros(2, programs, b, width, device=device),
            ints(), ints(), tuple(torch.empty_like(t) for t in steps.parameters), spins,
        )  # fmt: skip


def persistent_launch(pb: PersistentBuffers, k0: int, k1: int) -> Launch:
    """One launch for the block's positions k0..k1-1, their backward finished."""
    b = pb.steps
    hidden2, hidden1 = b.w2.shape
    args = dict(
        pre=b.pre, gram=b.gram, signal=b.signal, act1=b.act1, w2=b.w2, b2=b.b2, w3=b.w3,
        b3=b.b3, dh2=pb.dh2, partial=pb.partial, onehot=b.onehot, logits=b.logits,
        counter=pb.counter, flag=pb.flag, k0=k0, k1=k1, b=b.samples, programs=b.programs,
        spins=pb.spins, hidden1=hidden1, hidden2=hidden2, classes=b.w3.shape[0],
        block=b.gram.shape[1], neg_lr=-b.lr,
    )  # fmt: skip
    const = b.constexprs("ROWS", "H2", "C", "BI", "PP")
    return Launch("persistent", args, const, LAYER1_WARPS, b.programs)


def resident_programs(device: torch.device) -> int:
    """How many programs can be resident at once: one per SM on CUDA (a program takes
    209 registers a thread x 256 threads: 53.5k of an SM's 64k); one in Triton's
    interpreter, which runs programs one after another."""
    if device.type != "cuda":
        return 1
    return torch.cuda.get_device_properties(device).multi_processor_count


def run_persistent(pb: PersistentBuffers, k0: int, k1: int) -> bool:
    """The range in one launch: True when every barrier passed; False when one gave up,
    with the parameters as they were before (the caller runs the range another way)."""
    if k1 <= k0:
        return True
    for saved, now in zip(pb.saved, pb.steps.parameters, strict=True):
        saved.copy_(now)
    pb.counter.zero_()
    pb.flag.zero_()
    persistent_launch(pb, k0, k1)()
    if not pb.flag.item():  # a sync: the only one a block
        return True
    restore(pb)  # programs that passed the last barrier may have written theirs back
    return False


def restore(pb: PersistentBuffers) -> None:
    """The parameters as they were before the last launch."""
    for saved, now in zip(pb.saved, pb.steps.parameters, strict=True):
        now.copy_(saved)


# Why the persistent kernel cannot run in this process (its compile failed: the steps
# were told once, and run as two launches an update), or None.
unusable: str | None = None


def compile_now(device: torch.device, samples: int = 1, **shape) -> float:
    """Compile (or load from Triton's cache) the persistent kernel, by running two
    updates on zeros: seconds taken. Raises whatever triton raises when it cannot."""
    start = time.perf_counter()
    run_persistent(PersistentBuffers.around(zero_buffers(device, samples=samples, **shape)),
                   0, 2 * samples)  # fmt: skip
    return time.perf_counter() - start
