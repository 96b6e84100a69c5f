"""Per-sample SGD steps as fused Triton kernels: the `kernel` step mode on CUDA.

The blocked scheme of engines.tuned.blocked_sample_sgd (per block of K samples, P = X W1^T +
b1 and G = X X^T + 1 are torch GEMMs, and W1's K updates one GEMM at the block's end),
its per-step work done in two launches per sample instead of a dozen torch ops. Layer
1's 400 units are cut into slices of ROWS; each of the grid's programs owns one slice
R_p: its rows of P, U and a1, and the matching columns of W2. No program reads what
another writes in the same launch, so no grid-wide barrier is needed (and Triton's
interpreter, which runs programs one after another, runs them as a GPU would).

Step k, launch A (one program per slice) — `_layer1`:
- finish step k-1's backward for its slice: U[k-1, R] = (W2[:, R]^T dh2) * (a1_{k-1}[R]
  > 0), with W2 as it was, then W2[:, R] -= lr dh2 a1_{k-1}[R]^T;
- step k's layer 1: h1[R] = P[k, R] - lr * sum_{i<k} G[k, i] U[i, R], a1 = ReLU(h1);
- its share of layer 2's pre-activation with the updated W2: partial[p] = W2[:, R] a1[R].
Step k, launch B (one program) — `_head`: h2 = b2 + the partials summed in a fixed
order, layer 3, the softmax's gradient dz, dh2 = (W3^T dz) * (a2 > 0) with W3 as it
was, and the updates of W3, b3 and b2. dh2 waits in a buffer for the next launch A.

After a range of steps, one more launch A with `forward` off finishes the last step's
backward, so nothing is pending between calls: U and W2 are current whenever a call
returns, and a block's steps split over several calls make the same launches with the
same arguments (the same compiled kernel: `finish` and `forward` are runtime flags),
hence bit for bit the same results as one call.

float32 throughout; sums in a fixed order (no atomics), so runs are deterministic. A
ReLU keeps a NaN a NaN (as torch's does), so a diverging run shows in its logits.

triton is imported on first use (`available`, `kernels`): importing this module never
imports it. Run on the CPU with TRITON_INTERPRET=1 set before triton is imported (the
tests do, in tests/conftest.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache

import torch

# Layer 1's units per program: 32 → 13 programs for 400 units (the last one masked).
ROWS = 32
# Earlier steps' signal rows read per pass of the correction sum.
SIGNAL_ROWS = 32
# Warps per layer-1 program: its (256, 32) tile of W2 fits 8 warps' registers without
# spilling (ptxas for sm_90: 171 registers a thread; 4 warps spill at 255).
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
def kernels():
    """The two jitted kernels (triton must be available): (layer1, head)."""
    triton = _triton()
    if isinstance(triton, str):
        raise ImportError(triton)
    import triton.language as tl

    jit = triton.jit(do_not_specialize=["k", "finish", "forward"])

    @jit
    def _layer1(pre, gram, signal, act1, w2, dh2, partial, k, finish, forward,
                hidden1, hidden2, block, neg_lr,
                ROWS: tl.constexpr, H2: tl.constexpr, BI: tl.constexpr):  # fmt: skip
        p = tl.program_id(0)
        cols = p * ROWS + tl.arange(0, ROWS)  # this program's layer-1 units
        cmask = cols < hidden1
        outs = tl.arange(0, H2)  # layer 2's units (padded to a power of two)
        omask = outs < hidden2
        wmask = omask[:, None] & cmask[None, :]
        wptrs = w2 + outs[:, None] * hidden1 + cols[None, :]
        w = tl.load(wptrs, mask=wmask, other=0.0)  # W2[:, R]: (H2, ROWS)
        if finish:  # step k-1's backward and W2's update, for this slice
            d = tl.load(dh2 + outs, mask=omask, other=0.0)
            a_prev = tl.load(act1 + (k - 1) * hidden1 + cols, mask=cmask, other=0.0)
            back = tl.sum(w * d[:, None], axis=0)  # W2^T dh2, W2 as it was
            u = tl.where(a_prev > 0.0, back, 0.0)
            tl.store(signal + (k - 1) * hidden1 + cols, u, mask=cmask)
            w = w + (neg_lr * d)[:, None] * a_prev[None, :]
            tl.store(wptrs, w, mask=wmask)
            tl.debug_barrier()  # U[k-1, R] stored is read back below, by other threads
        if forward:  # step k's layer 1, and this slice's share of layer 2's forward
            acc = tl.zeros((ROWS,), dtype=tl.float32)
            for i0 in range(0, k, BI):
                ii = i0 + tl.arange(0, BI)
                imask = ii < k
                g = tl.load(gram + k * block + ii, mask=imask, other=0.0)
                us = tl.load(signal + ii[:, None] * hidden1 + cols[None, :],
                             mask=imask[:, None] & cmask[None, :], other=0.0)  # fmt: skip
                acc += tl.sum(g[:, None] * us, axis=0)
            h = tl.load(pre + k * hidden1 + cols, mask=cmask, other=0.0) + neg_lr * acc
            a = tl.where(h < 0.0, 0.0, h)  # ReLU; a NaN stays NaN
            tl.store(act1 + k * hidden1 + cols, a, mask=cmask)
            tl.store(partial + p * H2 + outs, tl.sum(w * a[None, :], axis=1))

    @jit
    def _head(partial, b2, w3, b3, dh2, onehot, logits, k, programs,
              hidden2, classes, neg_lr, H2: tl.constexpr, C: tl.constexpr):  # fmt: skip
        outs = tl.arange(0, H2)
        omask = outs < hidden2
        cls = tl.arange(0, C)  # the classes, padded to a power of two
        cmask = cls < classes
        h = tl.zeros((H2,), dtype=tl.float32)
        for q in range(0, programs):  # the slices' partial sums, in a fixed order
            h += tl.load(partial + q * H2 + outs)
        bias2 = tl.load(b2 + outs, mask=omask, other=0.0)
        h = h + bias2
        a2 = tl.where(h < 0.0, 0.0, h)
        wmask = cmask[:, None] & omask[None, :]
        wptrs = w3 + cls[:, None] * hidden2 + outs[None, :]
        w = tl.load(wptrs, mask=wmask, other=0.0)  # W3: (C, H2)
        bias3 = tl.load(b3 + cls, mask=cmask, other=0.0)
        z = tl.sum(w * a2[None, :], axis=1) + bias3
        tl.store(logits + k * classes + cls, z, mask=cmask)
        # d(cross-entropy)/dz = softmax(z) - onehot; the padding's exp is 0
        zm = tl.where(cmask, z, -float("inf"))
        e = tl.exp(zm - tl.max(zm, axis=0))
        y = tl.load(onehot + k * classes + cls, mask=cmask, other=0.0)
        dz = tl.where(cmask, e / tl.sum(e, axis=0) - y, 0.0)
        back = tl.sum(w * dz[:, None], axis=0)  # W3^T dz, W3 as it was
        d2 = tl.where(a2 > 0.0, back, 0.0)
        tl.store(dh2 + outs, d2, mask=omask)
        tl.store(wptrs, w + (neg_lr * dz)[:, None] * a2[None, :], mask=wmask)
        tl.store(b3 + cls, bias3 + neg_lr * dz, mask=cmask)
        tl.store(b2 + outs, bias2 + neg_lr * d2, mask=omask)

    return _layer1, _head


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


@dataclass
class StepBuffers:
    """What the kernels read and write: fixed addresses, so a block's launches can be
    captured as a CUDA graph. pre, signal, act1: (K, H1); gram: (K, K); w2 .. b3: the
    model's own parameters (updated in place); dh2: (H2,); partial: (programs, H2
    padded); onehot, logits: (K, C), the block's rows."""

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

    @classmethod
    def around(cls, pre, gram, signal, w2, b2, w3, b3, lr, rows=None) -> StepBuffers:
        """The buffers for these (K, H1) pre and signal, (K, K) gram and parameters,
        the step's own scratch made here; `rows` per program, ROWS unless given."""
        rows = rows or ROWS
        block, hidden1 = pre.shape
        hidden2, classes, device = w2.shape[0], w3.shape[0], pre.device
        tensors = (pre, gram, signal, w2, b2, w3, b3)
        if any(t.dtype != torch.float32 or not t.is_contiguous() for t in tensors):
            raise ValueError("the Triton steps take contiguous float32 tensors")
        programs = -(-hidden1 // rows)
        return cls(
            pre, gram, signal, torch.zeros(block, hidden1, device=device),
            w2, b2, w3, b3, torch.zeros(hidden2, device=device),
            torch.zeros(programs, _pow2(hidden2), device=device),
            torch.zeros(block, classes, device=device),
            torch.zeros(block, classes, device=device), lr, rows,
        )  # fmt: skip

    @property
    def programs(self) -> int:
        return self.partial.shape[0]


def _layer1(b: StepBuffers, k: int, finish: bool, forward: bool) -> None:
    layer1, _ = kernels()
    hidden2, hidden1 = b.w2.shape
    layer1[(b.programs,)](
        b.pre, b.gram, b.signal, b.act1, b.w2, b.dh2, b.partial, k, int(finish), int(forward),
        hidden1, hidden2, b.gram.shape[1], -b.lr,
        ROWS=b.rows, H2=b.partial.shape[1], BI=SIGNAL_ROWS, num_warps=LAYER1_WARPS,
    )  # fmt: skip


def _head(b: StepBuffers, k: int) -> None:
    _, head = kernels()
    hidden2 = b.w2.shape[0]
    head[(1,)](
        b.partial, b.b2, b.w3, b.b3, b.dh2, b.onehot, b.logits, k, b.programs,
        hidden2, b.w3.shape[0], -b.lr, H2=b.partial.shape[1], C=_pow2(b.w3.shape[0]),
    )  # fmt: skip


def run_steps(b: StepBuffers, k0: int, k1: int) -> None:
    """The block's steps k0..k1-1, their backward finished: 2 (k1 - k0) + 1 launches,
    none if the range is empty. Step k0's first launch finishes nothing (the call before
    finished its last step)."""
    if k1 <= k0:
        return
    for k in range(k0, k1):
        _layer1(b, k, finish=k > k0, forward=True)
        _head(b, k)
    _layer1(b, k1, finish=True, forward=False)


def compile_now(device: torch.device, hidden1=400, hidden2=256, classes=10, block=128) -> float:
    """Compile (or load from Triton's cache) the kernels for these shapes, by running
    two steps on zeros: seconds taken. Raises whatever triton raises when it cannot."""
    start = time.perf_counter()
    zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
    b = StepBuffers.around(
        zeros(block, hidden1), zeros(block, block), zeros(block, hidden1),
        zeros(hidden2, hidden1), zeros(hidden2), zeros(classes, hidden2), zeros(classes), 0.1,
    )  # fmt: skip
    run_steps(b, 0, 2)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
