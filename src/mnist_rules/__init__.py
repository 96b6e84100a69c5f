"""mnist-rules: one MLP, three gradient-descent update rules, measured.

The Python API (docs/api.md): `train`, `compare`, `sweep` and `profile` take their
command's options as keyword arguments and return results (`TrainResult`,
`CompareResult`, `SweepResult`, `ProfileResult`) that show as the command's tables in a
notebook. They are found here lazily (PEP 562): importing this package must stay cheap
(no torch), since the CLI's --help and --version depend on it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# Public name -> the module that defines it, imported when the name is first used. By
# name, not by an import statement: the modules import this package for __version__,
# which is set above before any of them can be reached from here.
_LAZY = {
    "train": "mnist_rules.api.train",
    "compare": "mnist_rules.api.compare",
    "sweep": "mnist_rules.api.sweep",
    "profile": "mnist_rules.api.profile",
    "noise_scale": "mnist_rules.api.noise_scale",
    "TrainResult": "mnist_rules.api.results",
    "CompareResult": "mnist_rules.api.results",
    "SweepResult": "mnist_rules.api.results",
    "ProfileResult": "mnist_rules.api.profile_results",
    "NoiseScaleResult": "mnist_rules.api.noise_results",
    "TransferComparison": "mnist_rules.api.profile_results",
    "EpochResult": "mnist_rules.training.results",
    "TrainConfig": "mnist_rules.config.train_config",
    "build_mlp": "mnist_rules.model",
    "UserError": "mnist_rules.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
