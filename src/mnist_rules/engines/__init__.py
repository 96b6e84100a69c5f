"""Engines: interchangeable implementations of one training step, behind the small
interface in `engines.base`. Engine modules import torch, so they are loaded only
when an engine is created."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mnist_rules.data import MnistData
    from mnist_rules.engines.base import Engine


class EngineName(str, Enum):
    torch = "torch"
    tuned = "tuned"


def create_engine(
    name: EngineName, model: nn.Module, data: MnistData, device: torch.device, lr: float
) -> Engine:
    if name is EngineName.torch:
        from mnist_rules.engines.torch_engine import TorchEngine

        return TorchEngine(model, data, device, lr)
    if name is EngineName.tuned:
        from mnist_rules.engines.tuned_engine import TunedEngine

        return TunedEngine(model, data, device, lr)
    raise ValueError(f"unknown engine {name!r}")
