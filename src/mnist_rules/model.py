"""The reference network: MLP 784 -> 400 -> ReLU -> 256 -> ReLU -> 10."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

LAYER_SIZES = (784, 400, 256, 10)


def build_mlp(seed: int) -> nn.Sequential:
    """The MLP with nn.Linear's default initialisation, drawn from `seed`.

    The weights are drawn on the CPU from a forked RNG, so the same seed gives the same
    network on any device and the caller's global RNG state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),  # (B, 1, 28, 28) images and (B, 784) rows alike
                fc1=nn.Linear(784, 400),
                relu1=nn.ReLU(),
                fc2=nn.Linear(400, 256),
                relu2=nn.ReLU(),
                fc3=nn.Linear(256, 10),
            )
        )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
