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

        source = _input_source(data, device, transfer, pinned, stream)
        return TunedEngine(
            model, data, device, lr, step_mode, source=source, transfer=transfer, world=world
        )
    raise ValueError(f"unknown engine {name!r}")


def _input_source(data, device, transfer, pinned, stream):
    """The tuned engine's inputs: streamed, copied per step (on CUDA only: on a CPU
    there is nothing to copy), or resident."""
    from mnist_rules.engines import input_sources

    images = data.train_images.reshape(data.train_size, -1)
    if stream is not None:
        return input_sources.StreamedInputs(stream, pinned)
    if Transfer(transfer or Transfer.resident) is Transfer.per_step and device.type == "cuda":
        return input_sources.HostCopiedInputs(images, device, pinned)
    return input_sources.ResidentInputs(images, device, pinned)
