"""Every option's default and check, once: the command line builds its typer.Options from
these (cli/options.py) and the Python API checks its keyword arguments with them, so the
two cannot disagree on a default, a range or a message.

A value the command line refuses while parsing (a range, a choice, a path) is refused by
`Spec.check` with the message typer prints, less its "Try ... --help" tail; checks that
involve several options live with each command (api/train.py and the others). No torch
here: --help reads this module.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mnist_rules.data.mnist import DatasetName
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS, DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer
from mnist_rules.errors import UsageError
from mnist_rules.training.rules import RuleName

ANY = object  # the kind of an option its command parses itself (a list of rules, say)


@dataclass(frozen=True)
class Spec:
    """One option: its flags (the first names it in messages), default and kind (int,
    float, bool, str, Path, an Enum, or ANY), and what the command line checks."""

    flags: tuple[str, ...]
    default: Any
    kind: type
    min: float | None = None
    max: float | None = None
    # Paths, as typer checks them: what may exist there, and whether something must.
    file_okay: bool = True
    dir_okay: bool = True
    exists: bool = False

    @property
    def flag(self) -> str:
        return self.flags[0]

    def check(self, value: Any) -> Any:
        """`value` as the command would receive it (an Enum member, a Path, a number),
        or a UsageError worded as the command line's."""
        if (value is None and self.default is None) or self.kind is ANY:
            return value
        if issubclass(self.kind, Enum):
            return self._choice(value)
        if self.kind is Path:
            return self._path(value)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self._invalid("Input should be a valid boolean")
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise self._invalid("Input should be a valid string")
            return value
        return self._in_range(self._number(value))

    def _invalid(self, reason: str) -> UsageError:
        return UsageError(f"Invalid value for '{self.flag}': {reason.rstrip('.')}.")

    def _choice(self, value: Any) -> Enum:
        if isinstance(value, self.kind):
            return value
        names = [member.value for member in self.kind]
        if isinstance(value, str) and value in names:
            return self.kind(value)
        choices = ", ".join(repr(name) for name in names)
        raise self._invalid(f"Value error, {value!r} is not one of {choices}")

    def _number(self, value: Any) -> int | float:
        integer = self.kind is int
        noun = "an integer" if integer else "a number"
        if isinstance(value, str):
            try:
                return self.kind(value.strip())
            except ValueError:
                raise self._invalid(
                    f"Input should be a valid {'integer' if integer else 'number'},"
                    f" unable to parse string as {noun}"
                ) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._invalid(f"Input should be a valid {'integer' if integer else 'number'}")
        if integer and isinstance(value, float):
            if not value.is_integer():
                raise self._invalid(
                    "Input should be a valid integer, got a number with a fractional part"
                )
            return int(value)
        return self.kind(value)

    def _in_range(self, number: int | float) -> int | float:
        if self.min is not None and number < self.min:
            raise self._invalid(f"Input should be greater than or equal to {self.min}")
        if self.max is not None and number > self.max:
            raise self._invalid(f"Input should be less than or equal to {self.max}")
        return number

    def _path(self, value: Any) -> Path:
        if not isinstance(value, (str, os.PathLike)):
            raise self._invalid("Input is not a valid path")
        path = Path(value)
        label = "file" if not self.dir_okay else "dir" if not self.file_okay else "path"
        where = repr(os.fsdecode(value))
        try:
            mode = os.stat(path).st_mode
        except OSError:
            if self.exists:
                raise self._invalid(f"{label} {where} does not exist") from None
            return path
        if not self.file_okay and stat.S_ISREG(mode):
            raise self._invalid(f"{label} {where} is a file")
        if not self.dir_okay and stat.S_ISDIR(mode):
            raise self._invalid(f"{label} {where} is a directory")
        if not os.access(path, os.R_OK):  # typer's readable=True, its default
            raise self._invalid(f"{label} {where} is not readable")
        return path


def choice(flag: str, default: Enum | None, kind: type[Enum] | None = None) -> Spec:
    return Spec((flag,), default, kind or type(default))


def number(flag: str, default, kind: type = int, min=None, max=None) -> Spec:
    return Spec((flag,), default, kind, min=min, max=max)


def path(flag: str, *, file_okay=True, dir_okay=True, exists=False) -> Spec:
    return Spec((flag,), None, Path, file_okay=file_okay, dir_okay=dir_okay, exists=exists)


def switch(*flags: str, default: bool | None = False) -> Spec:
    return Spec(flags, default, bool)


def text(flag: str, default: str | None) -> Spec:
    """An option its command parses itself (a comma-separated list, or a Python list)."""
    return Spec((flag,), default, ANY)


@dataclass(frozen=True)
class Options:
    """One command's options, in the order of its signature."""

    command: str
    specs: dict[str, Spec]
    default: SimpleNamespace = field(init=False)  # default.epochs: for the API's signature

    def __post_init__(self) -> None:
        defaults = {name: spec.default for name, spec in self.specs.items()}
        object.__setattr__(self, "default", SimpleNamespace(**defaults))

    def __getitem__(self, name: str) -> Spec:
        return self.specs[name]

    def check(self, values: dict[str, Any]) -> SimpleNamespace:
        """Every option's value checked and converted, in the table's order: the first
        bad one is the error. `values`: the API function's arguments (its locals())."""
        unknown = set(values) - set(self.specs)
        if unknown:  # a signature that grew a parameter the table does not know
            raise TypeError(f"{self.command}: no option spec for {sorted(unknown)}")
        return SimpleNamespace(
            **{name: spec.check(values[name]) for name, spec in self.specs.items()}
        )


# Shared by the commands that train, so that each is spelt, defaulted and checked one way.
SHARED = {
    "engine": choice("--engine", EngineName.tuned),
    "step_mode": choice("--step-mode", StepMode.auto),
    "device": choice("--device", DeviceChoice.auto),
    "dataset": choice("--dataset", DatasetName.mnist),
    "data_dir": path("--data-dir", file_okay=False),
    "train_subset": number("--train-subset", None, min=1),
    "seed": number("--seed", 0),
    "target_acc": number("--target-acc", 96.0, float, min=0, max=100),
    "data_mode": choice("--data-mode", DataMode.auto),
    "stream_block": number("--stream-block", STREAM_BLOCK, min=1),
    "stream_buffers": number("--stream-buffers", STREAM_BUFFERS, min=2),
    "json_out": path("--json", dir_okay=False),
    "csv_out": path("--csv", dir_okay=False),
    "plot": path("--plot", dir_okay=False),
    "quiet": switch("--quiet", "-q"),
}


def _shared(*names: str) -> dict[str, Spec]:
    return {name: SHARED[name] for name in names}


DATA = ("device", "dataset", "data_dir", "train_subset")
STREAM = ("data_mode", "stream_block", "stream_buffers")

TRAIN = Options(
    "train",
    {
        "rule": choice("--rule", RuleName.batch),
        "epochs": number("--epochs", 10, min=1),
        "lr": number("--lr", None, float),  # None: the rule's reference rate
        "batch_size": number("--batch-size", None, min=1),  # None: 100
        "shuffle": switch("--shuffle/--no-shuffle", default=None),  # None: the rule's
        **_shared("engine", *STREAM, "step_mode", *DATA, "seed", "json_out"),
        "save": path("--save", dir_okay=False),
        "checkpoint": path("--checkpoint", dir_okay=False),
        "checkpoint_every": number("--checkpoint-every", None, min=1),
        "resume": path("--resume", dir_okay=False, exists=True),
        "require_acc": number("--require-acc", None, float, min=0, max=100),
        **_shared("quiet"),
    },
)

COMPARE = Options(
    "compare",
    {
        "epochs": number("--epochs", 10, min=1),
        "rules": text("--rules", ",".join(rule.value for rule in RuleName)),
        **_shared("target_acc"),
        **{f"lr_{r.value}": number(f"--lr-{r.value}", None, float) for r in RuleName},
        "batch_size": number("--batch-size", None, min=1),
        "update_losses": switch("--update-losses"),
        # None: the tuned engine, unless --engines names the engines.
        "engine": choice("--engine", None, EngineName),
        "engines": text("--engines", None),
        **_shared("step_mode", *DATA, *STREAM, "seed", "plot", "json_out", "csv_out", "quiet"),
    },
)

SWEEP = Options(
    "sweep",
    {
        "sizes": text("--sizes", "1,10,100,1000,all"),
        "epochs": number("--epochs", 5, min=1),
        **_shared("target_acc"),
        "lr": number("--lr", None, float),  # None: 0.01 for one sample per update, else 0.1
        "shuffle": switch("--shuffle/--no-shuffle", default=None),
        **_shared("engine", "step_mode", *DATA, "data_mode", "seed"),
        **_shared("plot", "json_out", "csv_out", "quiet"),
    },
)

PROFILE = Options(
    "profile",
    {
        "rule": choice("--rule", RuleName.sample),
        **_shared("engine", "step_mode", "device"),
        "steps": number("--steps", None, min=1),  # None: per rule (report.profiling)
        "warmup": number("--warmup", None, min=0),
        "transfer": choice("--transfer", None, Transfer),  # None: the engine's own way
        "pinned": switch("--pinned/--pageable", default=None),  # None: pageable
        "compare_transfers": switch("--compare-transfers"),
        "trace": path("--trace", dir_okay=False),
        "trace_steps": number("--trace-steps", None, min=1),
        **_shared("json_out", *STREAM, "dataset", "data_dir", "train_subset", "seed", "quiet"),
    },
)

COMMANDS = {options.command: options for options in (TRAIN, COMPARE, SWEEP, PROFILE)}
