"""The MLP's forward and backward written out, for the tuned engine: the gradients
autograd would compute for 784→400→ReLU→256→ReLU→10 with mean cross-entropy, in as
few in-place ops as the arithmetic allows, with the SGD update fused in where an
update is a single chunk.

Checked against autograd + torch.optim.SGD in tests/test_tuned_engine.py.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnist_rules.engines.regions import BACKWARD, FORWARD, UPDATE, Regions

NO_REGIONS = Regions()  # never enabled
threshold_backward = torch.ops.aten.threshold_backward  # ReLU's backward: grad * (out > 0)


class MlpParams:
    """The model's six parameter tensors, updated in place (no autograd), with the
    transposed views each step needs made once (they follow in-place updates)."""

    def __init__(self, model: torch.nn.Module):
        fc1, fc2, fc3 = model.fc1, model.fc2, model.fc3
        self.tensors = [p.data for p in (fc1.weight, fc1.bias, fc2.weight, fc2.bias)]
        self.tensors += [fc3.weight.data, fc3.bias.data]
        self.w1, self.b1, self.w2, self.b2, self.w3, self.b3 = self.tensors
        self.w1t, self.w2t, self.w3t = self.w1.t(), self.w2.t(), self.w3.t()
        # The accumulated gradients: views of one flat buffer, so that data-parallel
        # training sums all six over the processes in one all-reduce.
        self.flat_grad = torch.zeros(sum(t.numel() for t in self.tensors), device=self.w1.device)
        sizes = [t.numel() for t in self.tensors]
        self.grads = [
            g.view_as(t) for g, t in zip(self.flat_grad.split(sizes), self.tensors, strict=True)
        ]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        a1 = torch.addmm(self.b1, x, self.w1t).relu_()
        a2 = torch.addmm(self.b2, a1, self.w2t).relu_()
        return torch.addmm(self.b3, a2, self.w3t)


def chunk_step(
    p: MlpParams,
    x: torch.Tensor,
    onehot: torch.Tensor,
    logits_out: torch.Tensor,
    weight: float,
    lr: float,
    apply: bool,
    region: Regions = NO_REGIONS,
    grad_sync: Callable[[], None] | None = None,
) -> None:
    """One chunk of an update: forward, backward, and either the fused update (the
    chunk is the whole update: weight 1, apply) or gradient accumulation, applied
    with `apply` on the update's last chunk. The chunk's logits are written to
    `logits_out` (its losses are computed from there once per epoch). `grad_sync`:
    data-parallel training's sum of the gradients over the processes, before applying."""
    with region(FORWARD):
        a1 = torch.addmm(p.b1, x, p.w1t).relu_()
        a2 = torch.addmm(p.b2, a1, p.w2t).relu_()
        z = torch.addmm(p.b3, a2, p.w3t, out=logits_out)
    fused = weight == 1.0 and apply and grad_sync is None  # the whole update at once
    with region(BACKWARD):
        # d(mean CE)/dz = (softmax - onehot) / B, scaled by the chunk's share of the
        # update; when fused, the scale goes into the updates' alpha (one op fewer).
        dz = torch.softmax(z, 1).sub_(onehot)
        scale = weight / x.shape[0]
        if not fused:
            dz.mul_(scale)
        dh2 = threshold_backward(dz @ p.w3, a2, 0)
        dh1 = threshold_backward(dh2 @ p.w2, a1, 0)
    layers = ((dz, a2, 4), (dh2, a1, 2), (dh1, x, 0))  # (grad out, input, index of W)
    if fused:
        with region(UPDATE):
            for d_out, inp, i in layers:
                p.tensors[i].addmm_(d_out.t(), inp, alpha=-lr * scale)
                p.tensors[i + 1].add_(d_out.sum(0), alpha=-lr * scale)
        return
    with region(BACKWARD):  # the weight gradients, accumulated
        for d_out, inp, i in layers:
            p.grads[i].addmm_(d_out.t(), inp)
            p.grads[i + 1].add_(d_out.sum(0))
    if apply:
        if grad_sync is not None:
            grad_sync()
        with region(UPDATE):
            torch._foreach_add_(p.tensors, p.grads, alpha=-lr)
            torch._foreach_zero_(p.grads)
