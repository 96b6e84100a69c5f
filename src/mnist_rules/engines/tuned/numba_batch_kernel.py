"""The compiled loop of numba_batch_steps.py (see there): updates of 2 to MAX_SAMPLES
samples in the deferred blocked scheme. numba is imported here at once: this module
is imported only once numba_sample_steps._numba() has set numba's cache directory.

`batch_steps` is jitted by numba_batch_steps.compiled_batch_steps (with its on-disk
cache where there is one); its helpers are inlined into it.
"""

from __future__ import annotations

import numba
import numpy as np

from mnist_rules.engines.tuned.numba_sample_steps import FASTMATH

# Samples whose first-layer activations (1.6 kB each) stay in the L1 cache together while
# layer 2's forward streams W2 past them.
GROUP = 8
njit = numba.njit(fastmath=FASTMATH, nogil=True, boundscheck=False, inline="always")


@njit
def _relu4(out, r, h0, h1, h2, h3):
    """out[r..r+3] = ReLU of the four sums (a NaN stays NaN, as in torch)."""
    zero = np.float32(0.0)
    out[r] = zero if h0 < zero else h0
    out[r + 1] = zero if h1 < zero else h1
    out[r + 2] = zero if h2 < zero else h2
    out[r + 3] = zero if h3 < zero else h3


@njit
def _pass1(w2, d, a1, back1, p, rows, m, neg_lr):
    """Sample p over W2's rows `rows[:m]`, four rows at a time, as numba_sample_steps
    does: each row read for dL/da1 and then updated in the same pass. (Passes of two or
    four samples over the union of their rows measured slower: 5.2 and 6.9 against 5.0
    us a sample, the rows that only some of them need costing more than the loads saved.)"""
    d0, x, k = d[p], a1[p], back1[p]
    hidden1 = w2.shape[1]
    e = 0
    while e + 4 <= m:
        ra, rb, rc, rd = rows[e], rows[e + 1], rows[e + 2], rows[e + 3]
        wa, wb, wc, wd = w2[ra], w2[rb], w2[rc], w2[rd]
        ga, gb, gc, gd = d0[ra], d0[rb], d0[rc], d0[rd]
        ta, tb, tc, td = neg_lr * ga, neg_lr * gb, neg_lr * gc, neg_lr * gd
        for c in range(hidden1):
            y, u, v, w, z = x[c], wa[c], wb[c], wc[c], wd[c]
            k[c] += (ga * u + gb * v) + (gc * w + gd * z)
            wa[c] = u + ta * y
            wb[c] = v + tb * y
            wc[c] = w + tc * y
            wd[c] = z + td * y
        e += 4
    for f in range(e, m):
        q = rows[f]
        w, g = w2[q], d0[q]
        t = neg_lr * g
        for c in range(hidden1):
            u = w[c]
            k[c] += g * u
            w[c] = u + t * x[c]


def batch_steps(pre, gram, signal, k0, k1, b, w2, b2, w3, b3, onehot, logits, lr, scratch):
    """The updates of b samples in block positions k0..k1-1 (k0 at an update's start;
    an update cut short by k1 is the epoch's last, smaller one). pre, signal: (K, H1);
    gram: (K, K); w2: (H2, H1); w3: (C, H2); onehot, logits: (K, C), the block's rows;
    lr: float32; scratch: a1, a2, dL/da1, dL/da2, dL/dz, each (b, width) float32."""
    a1, a2, back1, back2, dz = scratch
    hidden1, hidden2, classes = w2.shape[1], w2.shape[0], w3.shape[0]
    zero, one, neg_lr = np.float32(0.0), np.float32(1.0), -lr
    active = np.empty(hidden2, dtype=np.int64)  # a sample's rows of layer 2 with a gradient
    for s in range(k0, k1, b):
        n = min(b, k1 - s)
        scale = one / np.float32(n)  # the gradient of the update's mean loss
        # Layer 1: P_j minus the block's earlier updates, two samples at a time past four
        # signal rows at a time (each load of a signal row's element feeds both).
        for j in range(n):
            row, a = pre[s + j], a1[j]
            for c in range(hidden1):
                a[c] = row[c]
        j = 0
        while j < n:
            pair = j + 1 < n
            x, y = a1[j], a1[j + 1] if pair else a1[j]
            gx, gy = gram[s + j], gram[s + j + 1] if pair else gram[s + j]
            i = 0
            while i + 4 <= s:
                u0, u1, u2, u3 = signal[i], signal[i + 1], signal[i + 2], signal[i + 3]
                x0, x1, x2, x3 = (
                    neg_lr * gx[i],
                    neg_lr * gx[i + 1],
                    neg_lr * gx[i + 2],
                    neg_lr * gx[i + 3],
                )
                if pair:
                    y0, y1 = neg_lr * gy[i], neg_lr * gy[i + 1]
                    y2, y3 = neg_lr * gy[i + 2], neg_lr * gy[i + 3]
                    for c in range(hidden1):
                        v0, v1, v2, v3 = u0[c], u1[c], u2[c], u3[c]
                        x[c] += (x0 * v0 + x1 * v1) + (x2 * v2 + x3 * v3)
                        y[c] += (y0 * v0 + y1 * v1) + (y2 * v2 + y3 * v3)
                else:
                    for c in range(hidden1):
                        x[c] += (x0 * u0[c] + x1 * u1[c]) + (x2 * u2[c] + x3 * u3[c])
                i += 4
            for q in range(i, s):
                u, g = signal[q], neg_lr * gx[q]
                for c in range(hidden1):
                    x[c] += g * u[c]
                if pair:
                    g = neg_lr * gy[q]
                    for c in range(hidden1):
                        y[c] += g * u[c]
            j += 2
        for j in range(n):  # ReLU, written so that a NaN stays NaN, as in torch
            a = a1[j]
            for c in range(hidden1):
                a[c] = zero if a[c] < zero else a[c]
        # Layer 2 forward: four rows at a time past two samples at a time, so that each
        # load of a row's element or a sample's feeds several sums; samples in groups of
        # GROUP, whose rows of a1 stay in the L1 cache while W2 passes by.
        for g0 in range(0, n, GROUP):
            g1 = min(g0 + GROUP, n)
            r = 0
            while r + 4 <= hidden2:
                w0, w1, w2_, w3_ = w2[r], w2[r + 1], w2[r + 2], w2[r + 3]
                c0, c1, c2, c3 = b2[r], b2[r + 1], b2[r + 2], b2[r + 3]
                j = g0
                while j + 2 <= g1:
                    x, y = a1[j], a1[j + 1]
                    s0, s1, s2, s3 = zero, zero, zero, zero
                    t0, t1, t2, t3 = zero, zero, zero, zero
                    for c in range(hidden1):
                        xc, yc = x[c], y[c]
                        s0 += w0[c] * xc
                        s1 += w1[c] * xc
                        s2 += w2_[c] * xc
                        s3 += w3_[c] * xc
                        t0 += w0[c] * yc
                        t1 += w1[c] * yc
                        t2 += w2_[c] * yc
                        t3 += w3_[c] * yc
                    _relu4(a2[j], r, s0 + c0, s1 + c1, s2 + c2, s3 + c3)
                    _relu4(a2[j + 1], r, t0 + c0, t1 + c1, t2 + c2, t3 + c3)
                    j += 2
                if j < g1:
                    x = a1[j]
                    s0, s1, s2, s3 = zero, zero, zero, zero
                    for c in range(hidden1):
                        xc = x[c]
                        s0 += w0[c] * xc
                        s1 += w1[c] * xc
                        s2 += w2_[c] * xc
                        s3 += w3_[c] * xc
                    _relu4(a2[j], r, s0 + c0, s1 + c1, s2 + c2, s3 + c3)
                r += 4
            for q in range(r, hidden2):
                w = w2[q]
                for j in range(g0, g1):
                    h, a = b2[q], a1[j]
                    for c in range(hidden1):
                        h += w[c] * a[c]
                    a2[j, q] = zero if h < zero else h
        # Layer 3 forward, softmax, and dL/dz = (softmax - onehot) / n.
        for j in range(n):
            out, x, d = logits[s + j], a2[j], dz[j]
            for t in range(classes):
                w, z = w3[t], b3[t]
                for q in range(hidden2):
                    z += w[q] * x[q]
                out[t] = z
            top = out[0]
            for t in range(1, classes):
                top = max(top, out[t])
            total = zero
            for t in range(classes):
                d[t] = np.exp(out[t] - top)
                total += d[t]
            for t in range(classes):
                d[t] = (d[t] / total - onehot[s + j, t]) * scale
        # Layer 3: dL/da2 with W3 as it was, masked by ReLU's (dL/dh2); then W3, b3.
        for j in range(n):
            back, d, x = back2[j], dz[j], a2[j]
            for q in range(hidden2):
                back[q] = zero
            for t in range(classes):
                w, dt = w3[t], d[t]
                for q in range(hidden2):
                    back[q] += dt * w[q]
            for q in range(hidden2):
                back[q] = back[q] if x[q] > zero else zero
        for t in range(classes):
            w, total = w3[t], zero
            for j in range(n):
                step, x = neg_lr * dz[j, t], a2[j]
                for q in range(hidden2):
                    w[q] += step * x[q]
                total += dz[j, t]
            b3[t] += neg_lr * total
        # Layer 2's backward and update, sample by sample in one pass over the rows where
        # its dh2 is not zero: dL/da1_j += dh2_jr W2_r, then W2_r -= lr dh2_jr a1_j. So
        # sample j reads W2 after the update's samples before it; their share comes off:
        #     W2_old^T dh2_j = W2_now^T dh2_j + lr sum_{i<j} (dh2_i . dh2_j) a1_i.
        for j in range(n):
            d, back = back2[j], back1[j]
            m = 0
            for q in range(hidden2):
                if d[q] != zero:
                    active[m] = q
                    m += 1
            for c in range(hidden1):
                back[c] = zero
            _pass1(w2, back2, a1, back1, j, active, m, neg_lr)
            for i in range(j):
                overlap, di = zero, back2[i]
                for q in range(hidden2):
                    overlap += di[q] * d[q]
                g, xi = lr * overlap, a1[i]
                for c in range(hidden1):
                    back[c] += g * xi[c]
        for q in range(hidden2):
            total = zero
            for j in range(n):
                total += back2[j, q]
            b2[q] += neg_lr * total
        # U_j = dL/dh1: ReLU's mask on dL/da1.
        for j in range(n):
            u, back, a = signal[s + j], back1[j], a1[j]
            for c in range(hidden1):
                u[c] = back[c] if a[c] > zero else zero
