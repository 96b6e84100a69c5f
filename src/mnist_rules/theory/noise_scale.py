"""The gradient noise scale B_simple = tr(Σ) / |G|², from exact per-sample gradient norms.

For a linear layer z = W a + b, one sample's gradient is the outer product δ aᵀ (δ: the
loss's gradient at z), so its squared norm is |δ|²·|a|², plus |δ|² for the bias: no
per-sample gradient tensor is ever made (Goodfellow 2015, "Efficient per-example
gradient computations"). δ for every sample comes from one backward pass of the summed
loss, where the samples do not mix. Computed in float64: tr(Σ) is a difference of two
nearly equal means when the noise scale is large.

The estimators are unbiased over the n images sampled (McCandlish et al. 2018, App. A):
    tr(Σ̂) = n / (n - 1) · (mean |g_i|² - |ḡ|²),   |G|²̂ = |ḡ|² - tr(Σ̂) / n.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

# Samples in one forward/backward pass: bounds memory (about 100 MB in float64) for any n.
CHUNK = 4096


@dataclass(frozen=True)
class NoiseScale:
    """One measurement over `n` sampled images."""

    n: int
    mean_sq_norm: float  # mean over the samples of |g_i|²
    mean_grad_sq: float  # |ḡ|²: the squared norm of the samples' mean gradient
    trace_sigma: float  # tr(Σ̂), unbiased
    g2: float  # |G|²̂, unbiased (may come out ≤ 0: the gradient lost in the noise)
    b_simple: float | None  # tr(Σ̂) / |G|²̂; None where |G|²̂ ≤ 0

    def to_dict(self) -> dict:
        return asdict(self)


def from_moments(mean_sq_norm: float, mean_grad_sq: float, n: int) -> NoiseScale:
    """The unbiased estimates from the two moments over n ≥ 2 samples."""
    if n < 2:
        raise ValueError("the noise scale needs at least two samples")
    trace = n / (n - 1) * (mean_sq_norm - mean_grad_sq)
    g2 = mean_grad_sq - trace / n
    b_simple = trace / g2 if g2 > 0 and math.isfinite(g2) else None
    return NoiseScale(n, mean_sq_norm, mean_grad_sq, trace, g2, b_simple)


def per_sample_moments(
    model: nn.Sequential, images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each sample's |g_i|² (float64, (n,)), and the sum of the samples' gradients, one
    tensor per parameter in model.parameters() order. `model`: a stack of nn.Linear
    layers and parameter-free elementwise ones (the MLP), on any device."""
    work = copy.deepcopy(model).double()  # the caller's model is left as it was
    for module in work:
        if not isinstance(module, nn.Linear) and any(True for _ in module.parameters()):
            raise TypeError(f"per-sample norms need nn.Linear layers; got {type(module).__name__}")
    norms = []
    for start in range(0, len(images), CHUNK):
        x = images[start : start + CHUNK].to(torch.float64)
        y = labels[start : start + CHUNK]
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (input a, output z) per Linear
        for module in work:
            if isinstance(module, nn.Linear):
                z = module(x)
                z.retain_grad()
                seen.append((x, z))
                x = z
            else:
                x = module(x)
        F.cross_entropy(x, y, reduction="sum").backward()  # p.grad sums over the chunks
        chunk = torch.zeros(len(y), dtype=torch.float64, device=x.device)
        for a, z in seen:
            delta = z.grad
            chunk += delta.square().sum(1) * (a.detach().square().sum(1) + 1.0)  # W, then b
        norms.append(chunk)
    sums = [p.grad.detach() for p in work.parameters()]
    return torch.cat(norms), sums


def measure(model: nn.Sequential, images: torch.Tensor, labels: torch.Tensor) -> NoiseScale:
    """B_simple of the mean cross-entropy at `model`'s weights over these samples
    (float images, (n, 784) or (n, 1, 28, 28), and their labels)."""
    n = len(images)
    norms, sums = per_sample_moments(model, images, labels)
    mean_grad_sq = sum(float(s.square().sum()) for s in sums) / n**2
    return from_moments(float(norms.mean()), mean_grad_sq, n)


def sample_indices(n_total: int, samples: int, seed: int) -> torch.Tensor:
    """Which training images a measurement reads: `samples` of them, drawn without
    replacement from `seed`, the same at every point of one training."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=generator)[:samples].sort().values


@dataclass(frozen=True)
class NoiseReading:
    """A measurement at one point of a training: after `epoch` epochs (0: the initial
    weights) and `updates` updates."""

    epoch: int
    updates: int
    noise: NoiseScale

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "updates": self.updates, **self.noise.to_dict()}
