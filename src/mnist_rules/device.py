"""--device auto|cpu|cuda, resolved to a torch.device with a clear error when the
choice cannot work. torch is imported inside the functions: the CLI imports this
module for --help."""

from __future__ import annotations

import platform
from enum import Enum
from typing import TYPE_CHECKING

from mnist_rules.errors import UserError

if TYPE_CHECKING:
    import torch


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def resolve_device(choice: DeviceChoice) -> torch.device:
    import torch

    if choice is DeviceChoice.auto:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice is DeviceChoice.cuda and not torch.cuda.is_available():
        raise UserError(
            "--device cuda was asked for, but PyTorch sees no CUDA GPU on this machine"
            f" (torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})."
            " Use --device cpu, or --device auto to take a GPU only when there is one."
        )
    return torch.device(choice.value)


def describe(device: torch.device) -> str:
    """A human name for the hardware behind `device`, recorded with every result."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
