"""Making an engine by name; its module (and torch) is imported only then."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_rules.engines.modes import EngineName, StepMode, Transfer

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mnist_rules.data.mnist import MnistData
    from mnist_rules.data.stream import BlockStream
    from mnist_rules.engines.base import Engine
    from mnist_rules.training.distributed import World


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
    """`transfer` None: the engine's own way (torch: per step; tuned: resident).
    `pinned`: copy from pinned host memory (CUDA only). `world`: the torchrun job
    whose processes sum their gradients each update (None: one process)."""
    if name is EngineName.torch:
        if step_mode is not StepMode.eager:
            raise ValueError("the torch engine runs eagerly only")
        from mnist_rules.engines.torch_engine import TorchEngine

        return TorchEngine(model, data, device, lr, transfer, pinned, world=world, stream=stream)
    if name is EngineName.tuned:
        from mnist_rules.engines.tuned_engine import TunedEngine

        return TunedEngine(
            model,
            data,
            device,
            lr,
            step_mode,
            transfer=transfer,
            pinned=pinned,
            world=world,
            stream=stream,
        )
    raise ValueError(f"unknown engine {name!r}")
