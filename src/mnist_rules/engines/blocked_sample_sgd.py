"""Per-sample SGD with the first layer's updates applied a block at a time: the same
updates, reassociated, at a fraction of the memory traffic.

Per-sample SGD on this MLP is bound by the first layer: 400x784 weights (1.25 MB)
read for the forward pass and read and written again for the rank-1 update, every
sample. But layer 1's input (the image) is known in advance, so for a block of K
samples x_0..x_{K-1}, with u_j = dL_j/dh1_j (the backward signal at layer 1):

    W1 after j updates = W1_0 - lr * sum_{i<j} u_i x_i^T      (b1 likewise, with x = 1)
    h1_j = W1_j x_j + b1_j = P_j - lr * sum_{i<j} (x_i . x_j + 1) u_i

with P = X W1_0^T + b1_0 and G = X X^T + 1 computed once per block (two GEMMs). Each
step then costs an addmv over the block so far instead of a 1.25 MB pass, and the K
updates are applied at the end of the block as one GEMM: W1 -= lr U^T X. Layers 2 and
3, whose inputs depend on the current weights, are updated every sample as usual.
The arithmetic is plain SGD's in a different order (tests: within float tolerance of
torch.optim.SGD, sample by sample).
"""

from __future__ import annotations

import torch

from mnist_rules.engines.mlp_steps import MlpParams, threshold_backward

# Samples per block: larger blocks make the GEMMs cheaper per sample but each step's
# correction longer. Measured on the 2-core CPU (one run each, noise about 5%): 32 →
# 136, 64 → 141, 128 → 129, 256 → 136 µs per update.
BLOCK = 128
_threshold_backward_out = torch.ops.aten.threshold_backward.grad_input


class BlockedSampleSgd:
    def __init__(self, p: MlpParams, lr: float, device: torch.device, block: int = BLOCK):
        self.p, self.lr, self.block = p, lr, block
        hidden = p.w1.shape[0]
        self.pre = torch.empty(block, hidden, device=device)  # P: h1 at the block's start
        self.gram = torch.empty(block, block, device=device)  # G: x_i . x_j + 1
        self.signal = torch.zeros(block, hidden, device=device)  # U: dL/dh1 of each step
        # Views made once: slicing per step would cost more than some of the steps' ops.
        self.pre_rows = list(self.pre.unbind(0))
        self.signal_rows = list(self.signal.unbind(0))
        self.gram_prefix = [self.gram[k, :k] for k in range(block)]
        self.signal_prefix_t = [self.signal[:k].t() for k in range(block)]
        self.inputs: torch.Tensor | None = None
        self.k = self.size = 0

    def start_block(self, x: torch.Tensor) -> None:
        """The next up-to-`block` samples' images (K, 784), in the order they train."""
        p, size = self.p, x.shape[0]
        torch.addmm(p.b1, x, p.w1t, out=self.pre[:size])
        self.gram[:size, :size].copy_(x @ x.t()).add_(1.0)  # + 1: the bias's input
        self.inputs, self.k, self.size = x, 0, size

    def step(self, onehot: torch.Tensor, logits_out: torch.Tensor) -> None:
        """One sample's update (the block's k-th), writing its logits."""
        p, lr, k = self.p, self.lr, self.k
        h1 = torch.addmv(self.pre_rows[k], self.signal_prefix_t[k], self.gram_prefix[k], alpha=-lr)
        a1 = h1.relu_()
        a2 = torch.addmv(p.b2, p.w2, a1).relu_()
        z = torch.addmv(p.b3, p.w3, a2, out=logits_out)
        dz = torch.softmax(z, 0).sub_(onehot)  # d(cross-entropy)/dz
        dh2 = threshold_backward(torch.mv(p.w3t, dz), a2, 0)
        _threshold_backward_out(torch.mv(p.w2t, dh2), a1, 0, grad_input=self.signal_rows[k])
        p.w3.addr_(dz, a2, alpha=-lr)
        p.b3.add_(dz, alpha=-lr)
        p.w2.addr_(dh2, a1, alpha=-lr)
        p.b2.add_(dh2, alpha=-lr)
        self.k += 1
        if self.k == self.size:
            self._apply_first_layer()

    def _apply_first_layer(self) -> None:
        signal = self.signal[: self.size]
        self.p.w1.addmm_(signal.t(), self.inputs, alpha=-self.lr)
        self.p.b1.add_(signal.sum(0), alpha=-self.lr)
        self.inputs, self.k, self.size = None, 0, 0
