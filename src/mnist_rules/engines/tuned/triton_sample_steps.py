"""SGD steps as fused Triton launches: the `kernel` step mode on CUDA, two launches an
update (the kernels and their math: triton_kernels.py; one persistent launch a range of
updates instead: triton_persistent_steps.py).

The blocked scheme of engines.tuned.blocked_sample_sgd (per block of K samples, P = X W1^T +
b1 and G = X X^T + 1 are torch GEMMs, and W1's K updates one GEMM at the block's end),
its per-update work done in two launches instead of a dozen torch ops a sample. Layer
1's 400 units are cut into slices of ROWS; each of the grid's programs owns one slice
R_p: its rows of P, U and a1, and the matching columns of W2. No program reads what
another writes in the same launch, so no grid-wide barrier is needed (and Triton's
interpreter, which runs programs one after another, runs them as a GPU would).

Update at s of n samples, launch A (one program per slice), `layer1`:
- finish the previous update's backward for its slice: U rows = (W2[:, R]^T dh2_j) *
  (a1_j[R] > 0), with W2 as it was, then W2[:, R] -= lr sum_j dh2_j a1_j[R]^T;
- the update's layer 1: h1_j[R] = P[s+j, R] - lr * sum_{i<s} G[s+j, i] U[i, R];
- its share of layer 2's pre-activation with the updated W2: partial[p, j] = W2[:, R] a1_j[R].
Launch B (one program), `head`: h2_j = b2 + the partials as one tile summed in a fixed
order, layer 3, the softmax's gradient dz_j / n, dh2_j = (W3^T dz_j) * (a2_j > 0) with
W3 as it was, and the updates of W3, b3 and b2. dh2 waits in a buffer for launch A.

After a range of updates, one more launch A with no samples finishes the last one's
backward, so nothing is pending between calls: U and W2 are current whenever a call
returns, and a block's updates split over several calls make the same launches with the
same arguments (one compiled kernel: every runtime int is unspecialised), hence bit for
bit the same results as one call.

triton is imported on first use (`available`, `kernels`): importing this module never
imports it. Run on the CPU with TRITON_INTERPRET=1 set before triton is imported (the
tests do, in tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass
from functools import cache

import torch

# Layer 1's units per program: 32 → 13 programs for 400 units (the last one masked).
ROWS = 32
# Earlier steps' signal rows read per pass of the correction sum.
SIGNAL_ROWS = 32
# Warps per layer-1 program (and per persistent program): the (256, 32) tile of W2 on 8
# warps is 32 registers a thread. ptxas for sm_90 (Triton 3.8, tests/test_sm90.py):
# layer1 105 registers a thread, persistent 209; on 4 warps layer1 144, but persistent
# 255 and 40 bytes spilled.
LAYER1_WARPS = 8


@cache
def _triton():
    """The triton module, or the ImportError's message."""
    try:
        import triton
    except ImportError as error:
        return str(error)
    return triton


def available() -> str | None:
    """None when triton imports; else why not, in a few words."""
    found = _triton()
    return None if not isinstance(found, str) else f"triton is not installed ({found})"


def interpreting() -> bool:
    """Whether Triton's kernels run in its interpreter (TRITON_INTERPRET=1), on the CPU."""
    triton = _triton()
    if isinstance(triton, str):
        return False
    knobs = getattr(triton, "knobs", None)  # Triton 3.4 and later
    if knobs is None:  # an older Triton reads the variable itself
        return os.environ.get("TRITON_INTERPRET", "0") == "1"
    return bool(knobs.runtime.interpret)


@cache
def _built(interpret: bool):
    """triton_kernels.py loaded as a module of its own, jitted in this mode."""
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        f"mnist_rules.engines.tuned.triton_kernels[{'interpreted' if interpret else 'compiled'}]",
        Path(__file__).with_name("triton_kernels.py"),
    )
    module = importlib.util.module_from_spec(spec)
    with _triton().knobs.runtime.scope():
        _triton().knobs.runtime.interpret = interpret
        spec.loader.exec_module(module)
    return module


def kernels(interpret: bool | None = None):
    """triton_kernels.py's kernels and helpers (triton must be available), jitted for
    Triton's interpreter or its compiler (None: as TRITON_INTERPRET says)."""
    triton = _triton()
    if isinstance(triton, str):
        raise ImportError(triton)
    return _built(interpreting() if interpret is None else interpret)


def pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


@dataclass(frozen=True)
class Launch:
    """One launch: the kernel's name in triton_kernels, its runtime arguments in order
    (tensors, ints, floats), its constexprs, warps and programs. The launch and the
    compile tests for sm_90 (tests/test_sm90.py) read the same object."""

    kernel: str
    args: dict
    constexprs: dict
    num_warps: int
    programs: int

    def __call__(self, interpret: bool | None = None) -> None:
        fn = getattr(kernels(interpret), self.kernel)
        fn[(self.programs,)](*self.args.values(), **self.constexprs, num_warps=self.num_warps)


@dataclass
class StepBuffers:
    """What the kernels read and write: fixed addresses, so a block's launches can be
    captured as a CUDA graph. pre, signal, act1: (K, H1); gram: (K, K); w2 .. b3: the
    model's own parameters (updated in place); dh2: (b, H2 padded), the last update's;
    partial: (programs, b, H2 padded); onehot, logits: (K, C), the block's rows."""

    pre: torch.Tensor
    gram: torch.Tensor
    signal: torch.Tensor
    act1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor
    w3: torch.Tensor
    b3: torch.Tensor
    dh2: torch.Tensor
    partial: torch.Tensor
    onehot: torch.Tensor
    logits: torch.Tensor
    lr: float
    rows: int = ROWS
    samples: int = 1  # per update

    @classmethod
    def around(cls, pre, gram, signal, w2, b2, w3, b3, lr, rows=None, samples=1):
        """The buffers for these (K, H1) pre and signal, (K, K) gram and parameters,
        the steps' own scratch made here; `rows` per program, ROWS unless given;
        updates of `samples`."""
        rows = rows or ROWS
        block, hidden1 = pre.shape
        hidden2, classes, device = w2.shape[0], w3.shape[0], pre.device
        tensors = (pre, gram, signal, w2, b2, w3, b3)
        if any(t.dtype != torch.float32 or not t.is_contiguous() for t in tensors):
            raise ValueError("the Triton steps take contiguous float32 tensors")
        zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
        return cls(
            pre, gram, signal, zeros(block, hidden1), w2, b2, w3, b3,
            zeros(samples, pow2(hidden2)), zeros(_programs(hidden1, rows), samples, pow2(hidden2)),
            zeros(block, classes), zeros(block, classes), lr, rows, samples,
        )  # fmt: skip

    @property
    def programs(self) -> int:
        return _programs(self.w2.shape[1], self.rows)

    @property
    def parameters(self) -> tuple[torch.Tensor, ...]:
        """The model's parameters the steps update in place: W2, b2, W3, b3."""
        return (self.w2, self.b2, self.w3, self.b3)

    def constexprs(self, *names: str) -> dict:
        """These of the kernels' constexprs, all decided here: units per program,
        layer 2's and the classes' widths padded to powers of two, signal rows per pass
        of the correction sum, programs padded."""
        every = {
            "ROWS": self.rows, "H2": pow2(self.w2.shape[0]), "C": pow2(self.w3.shape[0]),
            "BI": SIGNAL_ROWS, "PP": pow2(self.programs),
        }  # fmt: skip
        return {name: every[name] for name in names}


def _programs(hidden1: int, rows: int) -> int:
    """Programs for layer 1's units, `rows` each (the last one masked)."""
    return -(-hidden1 // rows)


def layer1_launch(b: StepBuffers, s: int, n: int, prev: int, n_prev: int) -> Launch:
    """Launch A: the update of n samples at s after finishing the one of n_prev at prev."""
    hidden2, hidden1 = b.w2.shape
    args = dict(
        pre=b.pre, gram=b.gram, signal=b.signal, act1=b.act1, w2=b.w2, dh2=b.dh2,
        partial=b.partial, s=s, n=n, prev=prev, n_prev=n_prev, hidden1=hidden1,
        hidden2=hidden2, block=b.gram.shape[1], neg_lr=-b.lr,
    )  # fmt: skip
    return Launch("layer1", args, b.constexprs("ROWS", "H2", "BI"), LAYER1_WARPS, b.programs)


def head_launch(b: StepBuffers, s: int, n: int) -> Launch:
    """Launch B: the head of the update of n samples at s (one program)."""
    args = dict(
        partial=b.partial, b2=b.b2, w3=b.w3, b3=b.b3, dh2=b.dh2, onehot=b.onehot,
        logits=b.logits, s=s, n=n, programs=b.programs, hidden2=b.w2.shape[0],
        classes=b.w3.shape[0], neg_lr=-b.lr,
    )  # fmt: skip
    return Launch("head", args, b.constexprs("H2", "C", "PP"), 4, 1)


def launches(b: StepBuffers, k0: int, k1: int) -> list[Launch]:
    """The launches of the block's positions k0..k1-1 (k0 at an update's start; only
    the epoch's last update may be cut short by k1), their backward finished: two an
    update and one more, none if the range is empty. The first finishes nothing (the
    call before finished its last update)."""
    if k1 <= k0:
        return []
    out, prev, n_prev = [], k0, 0
    for s in range(k0, k1, b.samples):
        n = min(b.samples, k1 - s)
        out += [layer1_launch(b, s, n, prev, n_prev), head_launch(b, s, n)]
        prev, n_prev = s, n
    return [*out, layer1_launch(b, k1, 0, prev, n_prev)]


def run_steps(b: StepBuffers, k0: int, k1: int) -> None:
    """Run the block's positions k0..k1-1: `launches`, one after another."""
    for launch in launches(b, k0, k1):
        launch()


def zero_buffers(device: torch.device, hidden1=400, hidden2=256, classes=10, block=128,
                 samples=1) -> StepBuffers:  # fmt: skip
    """Buffers of zeros for these shapes: what compiling the kernels runs on."""
    zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
    return StepBuffers.around(
        zeros(block, hidden1), zeros(block, block), zeros(block, hidden1),
        zeros(hidden2, hidden1), zeros(hidden2), zeros(classes, hidden2), zeros(classes), 0.1,
        samples=samples,
    )  # fmt: skip


def compile_now(device: torch.device, samples: int = 1, **shape) -> float:
    """Compile (or load from Triton's cache) the two-launch kernels, by running two
    updates on zeros: seconds taken. Raises whatever triton raises when it cannot."""
    start = time.perf_counter()
    run_steps(zero_buffers(device, samples=samples, **shape), 0, 2 * samples)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
