"""The engines by name: each name's class, imported (with torch) only when asked for,
and the one way to make an engine."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mnist_rules.engines.modes import EngineName, StepMode, Transfer

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mnist_rules.data.mnist import MnistData
    from mnist_rules.data.stream import BlockStream
    from mnist_rules.engines.base import Engine
    from mnist_rules.world import World

# Name -> "module:Class". A new engine is a module behind engines.base.Engine and a row
# here (and its name in engines.modes.EngineName).
ENGINES = {
    EngineName.torch: "mnist_rules.engines.torch_engine:TorchEngine",
    EngineName.tuned: "mnist_rules.engines.tuned.engine:TunedEngine",
}


def engine_class(name: EngineName | str) -> type[Engine]:
    module, cls = ENGINES[EngineName(name)].split(":")
    return getattr(importlib.import_module(module), cls)


def create_engine(
    name: EngineName,
    model: nn.Module,
    data: MnistData,
    device: torch.device,
    lr: float,
    step_mode: StepMode = StepMode.eager,
    transfer: Transfer | None = None,
    pinned: bool = False,
    world: World | None = None,
    stream: BlockStream | None = None,
) -> Engine:
    """`step_mode`: one the engine takes, as config.resolve settled it. `transfer` None:
    the engine's own way (torch: per step; tuned: resident). `pinned`: copy from pinned
    host memory (CUDA only). `world`: the torchrun job whose processes sum their
    gradients each update (None: one process)."""
    cls = engine_class(name)
    if step_mode not in cls.step_modes:
        raise ValueError(f"the {cls.name} engine does not take step mode {step_mode.value}")
    return cls.create(model, data, device, lr, step_mode, transfer, pinned, world, stream)
