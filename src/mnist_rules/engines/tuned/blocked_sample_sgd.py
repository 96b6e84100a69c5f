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

What is left is a dozen small ops per sample, where each op's dispatch costs about as
much as its arithmetic. So: layers 2 and 3 keep their bias as an extra weight column
(the input gets a constant 1), which makes each layer's forward one mv and its update
one addr_; every op writes into a buffer made once (no allocation per step); and the
views each step needs are made once per block position (a view costs microseconds).
The augmented copies are taken at `begin` and written back at `end`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from mnist_rules.engines.regions import BACKWARD, FORWARD, UPDATE, Regions
from mnist_rules.engines.tuned.mlp_steps import MlpParams

# Samples per block: larger blocks make the Gram GEMM dearer per sample and each step's
# correction longer, smaller ones the GEMMs less efficient. Measured on the 2-core CPU
# (best of 5, 8,192 updates): 32 → 129, 64 → 132, 128 → 123, 256 → 125 µs per update;
# flat, within the machine's noise.
BLOCK = 128
_threshold_backward_out = torch.ops.aten.threshold_backward.grad_input  # ReLU's backward


def _with_bias_column(weight: torch.Tensor) -> torch.Tensor:
    return torch.empty(weight.shape[0], weight.shape[1] + 1, device=weight.device)


class BlockedSampleSgd:
    """Per-sample SGD on `p`. Between `begin` and `end`, layers 2 and 3 live in this
    object's augmented copies; `p` is current again after `end`."""

    # The regions (profile) of the block's GEMMs: P and G, and the first layer's update.
    first_layer_regions = (FORWARD, UPDATE)

    def __init__(
        self,
        p: MlpParams,
        lr: float,
        device: torch.device,
        block: int = BLOCK,
        block_threads: int | None = None,
    ):
        self.p, self.lr, self.neg_lr, self.block = p, lr, -lr, block
        self.block_threads = block_threads  # CPU threads for the per-block GEMMs
        self.regions = Regions()  # the engine's, when it has one (profiling)
        hidden1, hidden2 = p.w1.shape[0], p.w2.shape[0]
        self.pre = torch.empty(block, hidden1, device=device)  # P: h1 at the block's start
        self.gram = torch.empty(block, block, device=device)  # G: x_i . x_j + 1
        self.signal = torch.zeros(block, hidden1, device=device)  # U: dL/dh1 of each step
        # Per block position k: (P_k, U_<k^T, G_k,<k, U_k), made once.
        self.rows = [
            (self.pre[k], self.signal[:k].t(), self.gram[k, :k], self.signal[k])
            for k in range(block)
        ]
        self.w2a, self.w3a = _with_bias_column(p.w2), _with_bias_column(p.w3)
        self.w2t, self.w3t = self.w2a[:, :hidden1].t(), self.w3a[:, :hidden2].t()
        self.a1a = torch.ones(hidden1 + 1, device=device)  # [a1, 1]
        self.a2a = torch.ones(hidden2 + 1, device=device)  # [a2, 1]
        self.a1, self.a2 = self.a1a[:hidden1], self.a2a[:hidden2]
        self.dz = torch.empty(p.w3.shape[0], device=device)
        self.dh2 = torch.empty(hidden2, device=device)
        self.back2 = torch.empty(hidden2, device=device)  # W3^T dz, before ReLU's mask
        self.back1 = torch.empty(hidden1, device=device)  # W2^T dh2, likewise
        self.inputs: torch.Tensor | None = None  # the block's images, until applied
        self.k = 0  # steps taken in the block

    def begin(self) -> None:
        """Take layers 2 and 3 into the augmented copies the steps update."""
        p = self.p
        for aug, w, b in ((self.w2a, p.w2, p.b2), (self.w3a, p.w3, p.b3)):
            aug[:, :-1].copy_(w)
            aug[:, -1].copy_(b)

    def next_block(self, x: torch.Tensor) -> None:
        """Apply the block just trained to the first layer, and start the next one:
        the next up-to-`block` samples' images (K, 784), in the order they train."""
        with cpu_threads(self.block_threads), full_float32_matmuls():
            self._apply_first_layer()
            p, size = self.p, x.shape[0]
            with self.regions(self.first_layer_regions[0]):
                torch.addmm(p.b1, x, p.w1t, out=self.pre[:size])
                self.gram[:size, :size].copy_(x @ x.t()).add_(1.0)  # + 1: the bias's input
        self.inputs, self.k = x, 0

    def start_block(self, x: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """`next_block`, told also the block's rows of one-hot labels and logits (the
        eager steps are handed theirs one at a time: `step`)."""
        self.next_block(x)

    def run_pending(self) -> None:
        """Eager steps run as they are taken: nothing is pending."""

    def finish_block(self) -> None:
        """Apply the steps taken since the block started to the first layer now."""
        with cpu_threads(self.block_threads), full_float32_matmuls():
            self._apply_first_layer()

    def end(self) -> None:
        """Apply the first layer's pending updates and write layers 2 and 3 back: `p` is
        the model after every step so far (also when a block was cut short). The
        augmented copies stay current, so steps may go on after it (a checkpoint)."""
        self.finish_block()
        p = self.p
        for aug, w, b in ((self.w2a, p.w2, p.b2), (self.w3a, p.w3, p.b3)):
            w.copy_(aug[:, :-1])
            b.copy_(aug[:, -1])

    def step(self, onehot: torch.Tensor, logits_out: torch.Tensor) -> None:
        """One sample's update (the block's k-th), writing its logits."""
        pre, signal_prefix_t, gram_row, signal_row = self.rows[self.k]
        a1, a2, dz, dh2, neg_lr = self.a1, self.a2, self.dz, self.dh2, self.neg_lr
        region = self.regions
        with region(FORWARD):
            torch.addmv(pre, signal_prefix_t, gram_row, alpha=neg_lr, out=a1).relu_()
            torch.mv(self.w2a, self.a1a, out=a2).relu_()
            torch.mv(self.w3a, self.a2a, out=logits_out)
        with region(BACKWARD):
            torch.softmax(logits_out, 0, out=dz).sub_(onehot)  # d(cross-entropy)/dz
            back2 = torch.mv(self.w3t, dz, out=self.back2)
            _threshold_backward_out(back2, a2, 0, grad_input=dh2)
            back1 = torch.mv(self.w2t, dh2, out=self.back1)
            _threshold_backward_out(back1, a1, 0, grad_input=signal_row)
        with region(UPDATE):
            self.w3a.addr_(dz, self.a2a, alpha=neg_lr)  # W3 and b3
            self.w2a.addr_(dh2, self.a1a, alpha=neg_lr)  # W2 and b2
        self.k += 1

    def _apply_first_layer(self) -> None:
        """W1 -= lr U^T X (b1 likewise) over the steps taken since the block started."""
        if self.inputs is None or self.k == 0:
            return
        signal = self.signal[: self.k]
        with self.regions(self.first_layer_regions[1]):
            self.p.w1.addmm_(signal.t(), self.inputs[: self.k], alpha=self.neg_lr)
            self.p.b1.add_(signal.sum(0), alpha=self.neg_lr)
        self.inputs, self.k = None, 0


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run what is inside on `n` CPU threads, then restore the process's setting, also
    on an exception or a generator closed early (None: leave the setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def full_float32_matmuls() -> Iterator[None]:
    """The block's GEMMs (P, G and W1's update) in full float32, whatever the process
    set: TF32 keeps 10 bits of mantissa, and an error in G or P feeds every step's
    correction of the block (on CUDA; the CPU has no TF32, and nothing changes there)."""
    before = torch.get_float32_matmul_precision()
    if before == "highest":
        yield
        return
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)
