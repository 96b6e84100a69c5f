"""The Triton kernels of the kernel step mode on CUDA, and the `@triton.jit` helpers
that hold their math, so that the two schedules do the same arithmetic:

- two launches an update (triton_sample_steps.py): `layer1` (one program per slice of
  layer 1's units) and `head` (one program);
- one persistent launch a range of updates (triton_persistent_steps.py): `persistent`,
  each program its slice's layer-1 work and then, after one grid barrier, the head
  computed redundantly, so that one barrier an update suffices.

Updates of b samples (b = 1: per-sample SGD) in the deferred blocked scheme of
blocked_sample_sgd.py: every sample of an update starting at block position s sees the
same weights, so its first layer is h1_j = P_j - lr sum_{i<s} G_ji U_i; its gradient
is the update's mean (dL/dz scaled by 1/n), so U rows come already divided by n.

This module imports triton, and `triton.jit` picks the interpreter or the compiler when
it decorates: triton_sample_steps.kernels loads it afresh for either mode (compiled for a
GPU, or by `triton.compile` for one: tests/test_sm90.py; interpreted with
TRITON_INTERPRET=1, the CPU tests), each its own module object, so that a kernel finds
its helpers among its own module's globals. Every runtime int is left unspecialised: one
compiled kernel serves every b, every range and the first and last launch of a range.

float32 throughout, no tl.dot (no TF32), sums in a fixed order: deterministic runs.
A ReLU keeps a NaN a NaN (as torch's does), so a diverging run shows in its logits.
"""

import triton
import triton.language as tl

# The runtime ints of each kernel, compiled once for every value (triton specialises an
# int equal to 1 otherwise: b = 1 would be a second compile).
UNSPECIALISED = {
    "layer1": ["s", "n", "prev", "n_prev"],
    "head": ["s", "n", "programs"],
    "persistent": ["k0", "k1", "b", "programs", "spins"],
}


@triton.jit
def finish_update(w, dh2, act1, signal, prev, n_prev, cols, cmask, outs, omask,
                  hidden1, neg_lr, H2: tl.constexpr):  # fmt: skip
    """The previous update's backward for a slice: U rows (W2 as it was) stored,
    then W2[:, R] moved by the update's mean gradient (dh2 rows hold it)."""
    for j in range(n_prev):
        d = tl.load(dh2 + j * H2 + outs, mask=omask, other=0.0)
        a = tl.load(act1 + (prev + j) * hidden1 + cols, mask=cmask, other=0.0)
        back = tl.sum(w * d[:, None], axis=0)  # W2^T dh2, W2 as it was
        tl.store(signal + (prev + j) * hidden1 + cols, tl.where(a > 0.0, back, 0.0),
                 mask=cmask)  # fmt: skip
    for j in range(n_prev):
        d = tl.load(dh2 + j * H2 + outs, mask=omask, other=0.0)
        a = tl.load(act1 + (prev + j) * hidden1 + cols, mask=cmask, other=0.0)
        w = w + (neg_lr * d)[:, None] * a[None, :]
    return w


@triton.jit
def layer1_forward(pre, gram, signal, act1, s, k, cols, cmask, hidden1, block, neg_lr,
                   ROWS: tl.constexpr, BI: tl.constexpr):  # fmt: skip
    """Sample k's layer 1 on a slice, the block's updates before s subtracted:
    a1 stored and returned."""
    acc = tl.zeros((ROWS,), dtype=tl.float32)
    for i0 in range(0, s, BI):
        ii = i0 + tl.arange(0, BI)
        imask = ii < s
        g = tl.load(gram + k * block + ii, mask=imask, other=0.0)
        us = tl.load(signal + ii[:, None] * hidden1 + cols[None, :],
                     mask=imask[:, None] & cmask[None, :], other=0.0)  # fmt: skip
        acc += tl.sum(g[:, None] * us, axis=0)
    h = tl.load(pre + k * hidden1 + cols, mask=cmask, other=0.0) + neg_lr * acc
    a = tl.where(h < 0.0, 0.0, h)  # ReLU; a NaN stays NaN
    tl.store(act1 + k * hidden1 + cols, a, mask=cmask)
    return a


@triton.jit
def head_update(partial, stride, programs, b2v, w3v, b3v, dh2, onehot, logits, s, n,
                write_logits, classes, neg_lr, outs, omask, cls, cmask,
                H2: tl.constexpr, PP: tl.constexpr):  # fmt: skip
    """Layers 2 (its ReLU) and 3 for the update's n samples with the weights as they
    were: the slices' partial sums loaded as one tile (`.cg`: other programs wrote
    them) and summed in a fixed order; dh2 rows stored; the new W3, b3 and b2."""
    qs = tl.arange(0, PP)
    qmask = qs < programs
    w3n, b3n, b2n = w3v, b3v, b2v
    scale = 1.0 / n.to(tl.float32)  # the update's mean loss
    for j in range(n):
        tile = tl.load(partial + qs[:, None] * stride + j * H2 + outs[None, :],
                       mask=qmask[:, None], other=0.0, cache_modifier=".cg")  # fmt: skip
        h = tl.sum(tile, axis=0) + b2v
        a2 = tl.where(h < 0.0, 0.0, h)
        z = tl.sum(w3v * a2[None, :], axis=1) + b3v
        if write_logits:
            tl.store(logits + (s + j) * classes + cls, z, mask=cmask)
        # d(cross-entropy)/dz = softmax(z) - onehot; the padding's exp is 0
        zm = tl.where(cmask, z, -float("inf"))
        e = tl.exp(zm - tl.max(zm, axis=0))
        y = tl.load(onehot + (s + j) * classes + cls, mask=cmask, other=0.0)
        dz = tl.where(cmask, (e / tl.sum(e, axis=0) - y) * scale, 0.0)
        back = tl.sum(w3v * dz[:, None], axis=0)  # W3^T dz, W3 as it was
        d2 = tl.where(a2 > 0.0, back, 0.0)
        tl.store(dh2 + j * H2 + outs, d2, mask=omask)
        w3n = w3n + (neg_lr * dz)[:, None] * a2[None, :]
        b3n = b3n + neg_lr * dz
        b2n = b2n + neg_lr * d2
    return w3n, b3n, b2n


@triton.jit
def grid_barrier(counter, flag, target, spins):
    """Wait until `target` arrivals (this program's included): 1 when they came,
    0 when the spin ran out or another program gave up (the flag is then set).
    Release on arrival, acquire on every read: what a program stored before it
    arrived is visible to every program that passes."""
    tl.debug_barrier()  # every thread's stores happen before the release
    tl.atomic_add(counter, 1, sem="release", scope="gpu")
    seen = tl.atomic_add(counter, 0, sem="acquire", scope="gpu")
    failed = tl.atomic_add(flag, 0, sem="relaxed", scope="gpu")
    tries = tl.full((), 0, tl.int32)
    while (seen < target) & (failed == 0) & (tries < spins):
        seen = tl.atomic_add(counter, 0, sem="acquire", scope="gpu")
        failed = tl.atomic_add(flag, 0, sem="relaxed", scope="gpu")
        tries += 1
    passed = (seen >= target).to(tl.int32)
    if passed == 0:
        tl.atomic_xchg(flag, 1, sem="relaxed", scope="gpu")
    tl.debug_barrier()  # no thread reads shared data before the acquire
    return passed


@triton.jit(do_not_specialize=UNSPECIALISED["layer1"])
def layer1(pre, gram, signal, act1, w2, dh2, partial, s, n, prev, n_prev,
           hidden1, hidden2, block, neg_lr,
           ROWS: tl.constexpr, H2: tl.constexpr, BI: tl.constexpr):  # fmt: skip
    """Launch A of an update: the previous update's backward (n_prev samples from
    prev) for this program's slice, then the n samples' layer 1 from s and the
    slice's partial sums of layer 2: partial[p, j] = W2[:, R] a1_j[R]."""
    p = tl.program_id(0)
    cols = p * ROWS + tl.arange(0, ROWS)  # this program's layer-1 units
    cmask = cols < hidden1
    outs = tl.arange(0, H2)  # layer 2's units (padded to a power of two)
    omask = outs < hidden2
    wmask = omask[:, None] & cmask[None, :]
    wptrs = w2 + outs[:, None] * hidden1 + cols[None, :]
    w = tl.load(wptrs, mask=wmask, other=0.0)  # W2[:, R]: (H2, ROWS)
    if n_prev > 0:
        w = finish_update(w, dh2, act1, signal, prev, n_prev, cols, cmask, outs, omask,
                          hidden1, neg_lr, H2)  # fmt: skip
        tl.store(wptrs, w, mask=wmask)
        tl.debug_barrier()  # the U rows stored are read back below, by other threads
    for j in range(n):
        a = layer1_forward(pre, gram, signal, act1, s, s + j, cols, cmask, hidden1,
                           block, neg_lr, ROWS, BI)  # fmt: skip
        tl.store(partial + (p * n + j) * H2 + outs, tl.sum(w * a[None, :], axis=1))


@triton.jit(do_not_specialize=UNSPECIALISED["head"])
def head(partial, b2, w3, b3, dh2, onehot, logits, s, n, programs,
         hidden2, classes, neg_lr, H2: tl.constexpr, C: tl.constexpr,
         PP: tl.constexpr):  # fmt: skip
    """Launch B of an update (one program): head_update on the parameters in memory."""
    outs = tl.arange(0, H2)
    omask = outs < hidden2
    cls = tl.arange(0, C)  # the classes, padded to a power of two
    cmask = cls < classes
    wmask = cmask[:, None] & omask[None, :]
    wptrs = w3 + cls[:, None] * hidden2 + outs[None, :]
    w3v = tl.load(wptrs, mask=wmask, other=0.0)  # W3: (C, H2)
    b3v = tl.load(b3 + cls, mask=cmask, other=0.0)
    b2v = tl.load(b2 + outs, mask=omask, other=0.0)
    w3n, b3n, b2n = head_update(partial, n * H2, programs, b2v, w3v, b3v, dh2, onehot,
                                logits, s, n, 1, classes, neg_lr, outs, omask, cls,
                                cmask, H2, PP)  # fmt: skip
    tl.store(wptrs, w3n, mask=wmask)
    tl.store(b3 + cls, b3n, mask=cmask)
    tl.store(b2 + outs, b2n, mask=omask)


@triton.jit(do_not_specialize=UNSPECIALISED["persistent"])
def persistent(pre, gram, signal, act1, w2, b2, w3, b3, dh2, partial, onehot, logits,
               counter, flag, k0, k1, b, programs, spins,
               hidden1, hidden2, classes, block, neg_lr,
               ROWS: tl.constexpr, H2: tl.constexpr, C: tl.constexpr,
               BI: tl.constexpr, PP: tl.constexpr):  # fmt: skip
    """Updates of b samples over block positions k0..k1-1 in one launch, the
    weights in registers from start to end. Per update: the previous update's
    backward and this one's layer 1 for the program's slice, its partial sums into
    one of two slots, one grid barrier, then the head in every program alike.
    Written back only when every barrier passed; else the flag is set, the
    program returns and the host falls back (triton_persistent_steps.py)."""
    p = tl.program_id(0)
    cols = p * ROWS + tl.arange(0, ROWS)
    cmask = cols < hidden1
    outs = tl.arange(0, H2)
    omask = outs < hidden2
    cls = tl.arange(0, C)
    clmask = cls < classes
    wmask = omask[:, None] & cmask[None, :]
    wptrs = w2 + outs[:, None] * hidden1 + cols[None, :]
    w = tl.load(wptrs, mask=wmask, other=0.0)
    w3mask = clmask[:, None] & omask[None, :]
    w3ptrs = w3 + cls[:, None] * hidden2 + outs[None, :]
    w3v = tl.load(w3ptrs, mask=w3mask, other=0.0)
    b3v = tl.load(b3 + cls, mask=clmask, other=0.0)
    b2v = tl.load(b2 + outs, mask=omask, other=0.0)
    own_dh2 = dh2 + p * b * H2  # this program's copy of the update's dh2 rows
    stride = b * H2  # one program's rows in a slot
    ok = tl.full((), 1, tl.int32)
    s = k0 + 0
    prev = k0 + 0
    n_prev = tl.full((), 0, tl.int32)
    arrivals = tl.full((), 0, tl.int32)
    while (s < k1) & (ok == 1):
        n = tl.minimum(b, k1 - s)
        w = finish_update(w, own_dh2, act1, signal, prev, n_prev, cols, cmask, outs,
                          omask, hidden1, neg_lr, H2)  # fmt: skip
        tl.debug_barrier()  # the U rows stored are read back below, by other threads
        slot = partial + (arrivals % 2) * programs * stride  # two slots, alternating
        for j in range(n):
            a = layer1_forward(pre, gram, signal, act1, s, s + j, cols, cmask, hidden1,
                               block, neg_lr, ROWS, BI)  # fmt: skip
            tl.store(slot + p * stride + j * H2 + outs, tl.sum(w * a[None, :], axis=1))
        arrivals += 1
        ok = grid_barrier(counter, flag, arrivals * programs, spins)
        if ok == 1:
            w3v, b3v, b2v = head_update(slot, stride, programs, b2v, w3v, b3v, own_dh2,
                                        onehot, logits, s, n, p == 0, classes, neg_lr,
                                        outs, omask, cls, clmask, H2, PP)  # fmt: skip
            tl.debug_barrier()  # the dh2 rows stored are read back by other threads
        prev = s
        n_prev = n
        s += n
    if ok == 1:
        w = finish_update(w, own_dh2, act1, signal, prev, n_prev, cols, cmask, outs,
                          omask, hidden1, neg_lr, H2)  # fmt: skip
        tl.store(wptrs, w, mask=wmask)
        if p == 0:
            tl.store(w3ptrs, w3v, mask=w3mask)
            tl.store(b3 + cls, b3v, mask=clmask)
            tl.store(b2 + outs, b2v, mask=omask)
