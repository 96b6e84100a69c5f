"""Per-sample SGD steps as one compiled loop (numba): the `kernel` step mode on the CPU.

The blocked scheme of engines.tuned.blocked_sample_sgd, with its per-step work (a dozen
small torch ops, each of whose dispatch costs about as much as its arithmetic)
compiled into one loop that runs a range of a block's steps per call:

- the first layer's correction through the block's Gram matrix, and its ReLU;
- layers 2 and 3 forward, softmax, the cross-entropy's gradient;
- the backward with the ReLU masks, and the rank-1 updates of layers 2 and 3, in place
  in the model's own parameters (numpy views of them: nothing is copied). Layer 2's
  backward and update are one pass over its rows, each row read for dL/dh1 and then
  updated; a row whose ReLU gradient is exactly zero contributes nothing to either,
  and is skipped.

What stays torch GEMMs on all cores is the same as in eager mode: per block, P = X W1^T
+ b1, the Gram matrix X X^T + 1, and the deferred update W1 -= lr U^T X. A block's
steps may run in several calls (the engine runs the steps taken so far whenever the
loop needs the model or the losses): each step's arithmetic is the same whichever
call runs it, so the results are bit for bit those of one call.

numba is optional at import: `available()` says whether it imports, and why not.
Its on-disk cache goes to the user cache directory (mnist_rules.cache_dir) unless
NUMBA_CACHE_DIR is set (the package's own folder may be read-only in site-packages).
"""

from __future__ import annotations

import importlib.util
import os
import time
from functools import cache

import numpy as np

from mnist_rules.cache_dir import user_cache_dir as _cache_root

# fastmath without 'nnan' and 'ninf': reassociation lets the sums vectorise, while a
# NaN or an infinity still propagates to the logits, where the loop finds a divergence.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@cache
def _numba():
    """The numba module, or the ImportError's message. numba reads NUMBA_CACHE_DIR when
    it is first imported: set here, before that, unless the user set it."""
    if importlib.util.find_spec("numba") is None:
        return "No module named 'numba'"
    root = None if "NUMBA_CACHE_DIR" in os.environ else _cache_root()
    if root is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(root / "numba")
    try:
        import numba
    except ImportError as error:
        return str(error)
    return numba


def available() -> str | None:
    """None when numba imports; else why not, in a few words."""
    found = _numba()
    return None if not isinstance(found, str) else f"numba is not installed ({found})"


def _steps(pre, gram, signal, k0, k1, w2, b2, w3, b3, onehot, logits, lr, scratch):
    """Steps k0..k1-1 of a block (see the module docstring). pre, signal: (K, H1);
    gram: (K, K); w2: (H2, H1); w3: (C, H2); onehot, logits: (K, C), the block's rows;
    lr: float32; scratch: (5, max(H1, H2)) float32, rows a1, a2, back1, back2, dz.

    Loops go from 0 over rows sliced first (so that they vectorise), and the passes over
    layer 2's weights and the block's signal take four rows at a time, so that each
    vector of a1 or dL/da1 is loaded and stored once per four rows (measured 14.0 ->
    11.4 us per step)."""
    hidden1, hidden2, classes = w2.shape[1], w2.shape[0], w3.shape[0]
    zero, neg_lr = np.float32(0.0), -lr
    a1, a2 = scratch[0, :hidden1], scratch[1, :hidden2]
    back1, back2, dz = scratch[2, :hidden1], scratch[3, :hidden2], scratch[4, :classes]
    active = np.empty(hidden2, dtype=np.int64)  # layer 2's rows with a gradient
    for k in range(k0, k1):
        # Layer 1: h1 = P_k - lr * sum_{i<k} G_ki U_i, the updates deferred so far.
        row = pre[k]
        for c in range(hidden1):
            a1[c] = row[c]
        i = 0
        while i + 4 <= k:
            g0, g1 = neg_lr * gram[k, i], neg_lr * gram[k, i + 1]
            g2, g3 = neg_lr * gram[k, i + 2], neg_lr * gram[k, i + 3]
            u0, u1, u2, u3 = signal[i], signal[i + 1], signal[i + 2], signal[i + 3]
            for c in range(hidden1):
                a1[c] += (g0 * u0[c] + g1 * u1[c]) + (g2 * u2[c] + g3 * u3[c])
            i += 4
        for j in range(i, k):
            g, u = neg_lr * gram[k, j], signal[j]
            for c in range(hidden1):
                a1[c] += g * u[c]
        for c in range(hidden1):  # ReLU, written so that a NaN stays NaN, as in torch
            a1[c] = zero if a1[c] < zero else a1[c]
        # Layer 2 forward, four rows at a time, then any left over.
        r = 0
        while r + 4 <= hidden2:
            w0, w1, w2_, w3_ = w2[r], w2[r + 1], w2[r + 2], w2[r + 3]
            s0, s1, s2, s3 = zero, zero, zero, zero
            for c in range(hidden1):
                a = a1[c]
                s0 += w0[c] * a
                s1 += w1[c] * a
                s2 += w2_[c] * a
                s3 += w3_[c] * a
            sums = (s0, s1, s2, s3)
            for j in range(4):
                h = sums[j] + b2[r + j]
                a2[r + j] = zero if h < zero else h
            r += 4
        for q in range(r, hidden2):
            w, h = w2[q], b2[q]
            for c in range(hidden1):
                h += w[c] * a1[c]
            a2[q] = zero if h < zero else h
        # Layer 3 forward.
        out = logits[k]
        for j in range(classes):
            w, z = w3[j], b3[j]
            for q in range(hidden2):
                z += w[q] * a2[q]
            out[j] = z
        # Softmax and d(cross-entropy)/dz = softmax - onehot.
        top = out[0]
        for j in range(1, classes):
            top = max(top, out[j])
        total = zero
        for j in range(classes):
            dz[j] = np.exp(out[j] - top)
            total += dz[j]
        for j in range(classes):
            dz[j] = dz[j] / total - onehot[k, j]
        # Layer 3: dL/da2 with W3 as it was, then W3 and b3's update.
        for q in range(hidden2):
            back2[q] = zero
        for j in range(classes):
            w, d = w3[j], dz[j]
            for q in range(hidden2):
                back2[q] += d * w[q]
        for j in range(classes):
            w, step = w3[j], neg_lr * dz[j]
            for q in range(hidden2):
                w[q] += step * a2[q]
            b3[j] += step
        # Layer 2: dh2_r = dL/da2_r where a2_r > 0, else 0. The rows with dh2_r != 0 in
        # one pass, four at a time: dL/da1 += dh2_r W2_r with each row as it was, then
        # the row's update W2_r -= lr dh2_r a1. The other rows add nothing to either.
        n = 0
        for q in range(hidden2):
            if a2[q] > zero and back2[q] != zero:
                active[n] = q
                n += 1
        for c in range(hidden1):
            back1[c] = zero
        m = 0
        while m + 4 <= n:
            r0, r1, r2, r3 = active[m], active[m + 1], active[m + 2], active[m + 3]
            d0, d1, d2, d3 = back2[r0], back2[r1], back2[r2], back2[r3]
            t0, t1, t2, t3 = neg_lr * d0, neg_lr * d1, neg_lr * d2, neg_lr * d3
            w0, w1, w2_, w3_ = w2[r0], w2[r1], w2[r2], w2[r3]
            for c in range(hidden1):
                a, x0, x1, x2, x3 = a1[c], w0[c], w1[c], w2_[c], w3_[c]
                back1[c] += (d0 * x0 + d1 * x1) + (d2 * x2 + d3 * x3)
                w0[c] = x0 + t0 * a
                w1[c] = x1 + t1 * a
                w2_[c] = x2 + t2 * a
                w3_[c] = x3 + t3 * a
            b2[r0] += t0
            b2[r1] += t1
            b2[r2] += t2
            b2[r3] += t3
            m += 4
        for j in range(m, n):
            q = active[j]
            d, w = back2[q], w2[q]
            step = neg_lr * d
            for c in range(hidden1):
                back1[c] += d * w[c]
                w[c] += step * a1[c]
            b2[q] += step
        # U_k = dL/dh1: ReLU's mask on dL/da1.
        u = signal[k]
        for c in range(hidden1):
            u[c] = back1[c] if a1[c] > zero else zero


@cache
def compiled_steps():
    """The jitted `_steps` (numba must be available)."""
    return jit_cached(_steps)


def jit_cached(fn):
    """`fn` jitted as the compiled loops are, with numba's on-disk cache where it may
    write one (numba must be available)."""
    numba = _numba()
    if isinstance(numba, str):
        raise ImportError(numba)
    jit = lambda cache: numba.njit(  # noqa: E731
        fastmath=FASTMATH, nogil=True, cache=cache, boundscheck=False
    )(fn)
    try:
        return jit(cache=True)
    except RuntimeError:  # "no locator available": nowhere numba may write its cache
        return jit(cache=False)  # compiled each run (about 2 s) rather than not at all


def f32_zeros(*shape: int) -> np.ndarray:
    """A float32 array of zeros: the dummy arguments a compiled loop is compiled for."""
    return np.zeros(shape, dtype=np.float32)


def seconds_to_compile(compiled, *args) -> float:
    """Get the jitted loop from `compiled` and call it once on `args`, which compiles it
    (or loads it from numba's cache): seconds taken. Raises whatever numba raises when
    it cannot."""
    start = time.perf_counter()
    compiled()(*args)
    return time.perf_counter() - start


def compile_now() -> float:
    """Compile (or load from the cache) the steps for float32 arrays: seconds taken."""
    z = f32_zeros
    return seconds_to_compile(
        compiled_steps, z(2, 3), z(2, 2), z(2, 3), 0, 0, z(4, 3), z(4), z(2, 4), z(2),
        z(2, 2), z(2, 2), np.float32(0.1), z(5, 4),
    )  # fmt: skip
