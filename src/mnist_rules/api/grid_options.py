"""compare's and sweep's grid options, checked before any data is read: --seeds,
--lrs / --tune-lr, --storage, and the configuration that names the grid's study."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from typing import Any

from mnist_rules.config.options import DEFAULT_LR_GRID
from mnist_rules.errors import UsageError, UserError

# What a grid's trials depend on: a storage holding another value of any of these holds
# another configuration's grid (grid.study). The paths and the printing are not.
IDENTITY = ("epochs", "evals_per_epoch", "target_acc", "batch_size", "shuffle", "engine",
            "engines", "step_mode", "data_mode", "stream_block", "stream_buffers", "device",
            "dataset", "train_subset", "lr")  # fmt: skip


def require_optuna() -> None:
    """The grid runs on Optuna: a clear error where it is missing (an install made with
    --no-deps, as on the GPU machine), before any data is read."""
    if importlib.util.find_spec("optuna") is None:
        raise UserError(
            "compare and sweep run their grid of trials through Optuna, which is not"
            " installed here: pip install optuna (a dependency of mnist-rules that an"
            " install with --no-deps leaves out)."
        )


def parse_seeds(seeds: str | Sequence[int] | None, seed: int) -> list[int]:
    """--seeds 0,1,2 (or N for 0 .. N-1; in Python also a list); None: [--seed]."""
    if seeds is None:
        return [seed]
    text = seeds if isinstance(seeds, str) else ",".join(str(s) for s in seeds)
    tokens = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in tokens):
        raise UsageError(f"--seeds {text!r}: give seeds separated by commas (0,1,2) or N.")
    try:
        values = [int(t) for t in tokens]
    except ValueError:
        raise UsageError(f"--seeds {text}: seeds are whole numbers, such as 0,1,2.") from None
    if any(v < 0 for v in values):
        raise UsageError(f"--seeds {text}: a seed must be 0 or more.")
    if len(values) == 1 and isinstance(seeds, str):  # N: the seeds 0 .. N-1
        if values[0] < 1:
            raise UsageError(f"--seeds {text}: give at least one seed (N for 0 to N-1).")
        return list(range(values[0]))
    if len(set(values)) != len(values):
        raise UsageError(f"--seeds {text}: each seed may be named once.")
    return values


def parse_lrs(lrs: str | Sequence[float] | None, tune_lr: bool) -> list[float] | None:
    """--lrs 0.01,0.1 (or --tune-lr: the default grid), ascending; None: no tuning."""
    if lrs is not None and tune_lr:
        raise UsageError("--lrs and --tune-lr both ask for a grid of learning rates; give one.")
    if tune_lr:
        return list(DEFAULT_LR_GRID)
    if lrs is None:
        return None
    text = lrs if isinstance(lrs, str) else ",".join(str(lr) for lr in lrs)
    tokens = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in tokens):
        raise UsageError(f"--lrs {text!r}: give learning rates separated by commas (0.01,0.1).")
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise UsageError(f"--lrs {text}: {token!r} is not a number.") from None
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"--lrs {text}: a learning rate must be a finite number above 0.")
        values.append(value)
    if len(set(values)) != len(values):
        raise UsageError(f"--lrs {text}: each learning rate may be named once.")
    return sorted(values)


def check_grid(o, lrs: list[float] | None, given_lrs: dict[str, float | None]) -> None:
    """The grid options that do not go together. `given_lrs`: the rates named by
    --lr (sweep) or --lr-<rule> (compare), by flag."""
    named = [flag for flag, value in given_lrs.items() if value is not None]
    if lrs is not None and named:
        raise UsageError(
            f"{named[0]} and {'--lrs' if o.lrs is not None else '--tune-lr'} both set a"
            " learning rate: give the grid, or the rate, not both."
        )
    if o.seeds is not None and o.seed != 0:
        raise UsageError("--seed and --seeds both name the seeds; give one of them.")
    if getattr(o, "update_losses", False) and o.storage is not None:
        raise UsageError(
            "--update-losses keeps every update's loss in memory, not in --storage: a"
            " resumed grid would lack them. Give one of the two."
        )


def configuration(
    command: str,
    o,
    arms: Sequence[str],
    seeds: Sequence[int],
    lrs: Sequence[float] | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """What names the grid's study: everything its trials depend on."""
    settings = {name: getattr(o, name) for name in IDENTITY if hasattr(o, name)}
    settings = {k: v.value if hasattr(v, "value") else v for k, v in settings.items()}
    return {"command": command, "arms": list(arms), "seeds": list(seeds),
            "lrs": None if lrs is None else list(lrs), **settings, **extra}  # fmt: skip
