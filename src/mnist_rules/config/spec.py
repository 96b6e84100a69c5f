"""What one option is: its flags, default, kind, range and help, and the check both the
command line and the Python API apply to it. The option tables are config/options.py;
the command line's typer.Options (cli/commands.py), the API's signatures
(api/signature.py) and TrainConfig's fields (config/train_config.py) are built from
them.

A value the command line refuses while parsing (a range, a choice, a path) is refused by
`Spec.check` with the message typer prints, less its "Try ... --help" tail; checks that
involve several options live with each command (api/train.py and the others). No torch
here: --help reads this module.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mnist_rules.errors import UsageError

ANY = object  # the kind of an option its command parses itself (a list of rules, say)


@dataclass(frozen=True)
class Choices:
    """The kind of an option whose valid values are read when it is checked, not when
    the tables are built: --rule's names are the rules' entries (config/rules.py)."""

    names: Callable[[], Iterable[str]]


@dataclass(frozen=True)
class Spec:
    """One option: its flags (the first names it in messages), default and kind (int,
    float, bool, str, Path, an Enum, Choices, or ANY), what the command line checks,
    and its help."""

    flags: tuple[str, ...]
    default: Any
    kind: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    positive: bool = False  # a finite number above zero (a learning rate)
    # Paths, as typer checks them: what may exist there, and whether something must.
    file_okay: bool = True
    dir_okay: bool = True
    exists: bool = False
    show_default: bool = True

    @property
    def flag(self) -> str:
        return self.flags[0]

    def but(self, **changes: Any) -> Spec:
        """This option with other fields (a default, help, flags): how a command's table
        says what its option does differently from the shared one."""
        return dataclasses.replace(self, **changes)

    @property
    def annotation(self) -> Any:
        """The type an API signature shows for it."""
        kind = {Path: Path | str, ANY: Any}.get(self.kind, self.kind)
        if isinstance(self.kind, Choices):
            kind = str
        elif isinstance(self.kind, type) and issubclass(self.kind, Enum):
            kind = self.kind | str
        return kind | None if self.default is None and kind is not Any else kind

    def check(self, value: Any) -> Any:
        """`value` as the command would receive it (an Enum member, a Path, a number),
        or a UsageError worded as the command line's."""
        if (value is None and self.default is None) or self.kind is ANY:
            return value
        if isinstance(self.kind, Choices):
            return self._named(value)
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
        number = self._in_range(self._number(value))
        if self.positive and not (math.isfinite(number) and number > 0):
            raise UsageError(f"{self.flag} must be a positive finite number; got {number}.")
        return number

    def _invalid(self, reason: str) -> UsageError:
        return UsageError(f"Invalid value for '{self.flag}': {reason.rstrip('.')}.")

    def _not_one_of(self, value: Any, names: Iterable[str]) -> UsageError:
        choices = ", ".join(repr(name) for name in names)
        return self._invalid(f"Value error, {value!r} is not one of {choices}")

    def _named(self, value: Any) -> str:
        names = list(self.kind.names())
        name = value.value if isinstance(value, Enum) else value
        if isinstance(name, str) and name in names:
            return name
        raise self._not_one_of(value, names)

    def _choice(self, value: Any) -> Enum:
        if isinstance(value, self.kind):
            return value
        names = [member.value for member in self.kind]
        if isinstance(value, str) and value in names:
            return self.kind(value)
        raise self._not_one_of(value, names)

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
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy's too
            raise self._invalid(f"Input should be a valid {'integer' if integer else 'number'}")
        if integer and not isinstance(value, numbers.Integral):
            if not float(value).is_integer():
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


def choice(flag: str, default: Enum | None, kind: type[Enum] | None = None, help="") -> Spec:
    return Spec((flag,), default, kind or type(default), help=help)


def number(flag: str, default, kind: type = int, min=None, max=None, help="", **kw) -> Spec:
    return Spec((flag,), default, kind, help=help, min=min, max=max, **kw)


def path(flag: str, *, file_okay=True, dir_okay=True, exists=False, help="") -> Spec:
    return Spec(
        (flag,), None, Path, help=help, file_okay=file_okay, dir_okay=dir_okay, exists=exists
    )


def switch(*flags: str, default: bool | None = False, help="", **kw) -> Spec:
    return Spec(flags, default, bool, help=help, **kw)


def text(flag: str, default: str | None, help="") -> Spec:
    """An option its command parses itself (a comma-separated list, or a Python list)."""
    return Spec((flag,), default, ANY, help=help)


@dataclass(frozen=True)
class Options:
    """One command's options, in the order of its signature, and what it does (the
    command line's help and the API function's docstring start with `summary`)."""

    command: str
    summary: str
    specs: dict[str, Spec]
    default: SimpleNamespace = field(init=False)  # default.epochs, for scripts and docs

    def __post_init__(self) -> None:
        defaults = {name: spec.default for name, spec in self.specs.items()}
        object.__setattr__(self, "default", SimpleNamespace(**defaults))

    def __getitem__(self, name: str) -> Spec:
        return self.specs[name]

    def check(self, values: dict[str, Any]) -> SimpleNamespace:
        """Every option's value checked and converted, in the table's order: the first
        bad one is the error. `values`: some or all of the options, by name; the
        others take their defaults."""
        unknown = sorted(set(values) - set(self.specs))
        if unknown:  # as Python says it of a function's keyword arguments
            raise TypeError(f"{self.command}() got an unexpected keyword argument {unknown[0]!r}")
        return SimpleNamespace(
            **{
                name: spec.check(values.get(name, spec.default))
                for name, spec in self.specs.items()
            }
        )

    def signature(self, returns: Any = inspect.Signature.empty) -> inspect.Signature:
        """The API function's signature: every option keyword-only, with its default."""
        kw = inspect.Parameter.KEYWORD_ONLY
        return inspect.Signature(
            [
                inspect.Parameter(name, kw, default=spec.default, annotation=spec.annotation)
                for name, spec in self.specs.items()
            ],
            return_annotation=returns,
        )
