"""The commands that train, made from their API functions: each option's typer.Option
from its row in config/options.py (flags, default, range, path checks, help), the
command's help from its summary, and the body the API function's, so that the command
line and Python cannot disagree. No torch here: --help builds these."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from mnist_rules.cli.errors import friendly_errors
from mnist_rules.config.spec import ANY, Choices, Spec
from mnist_rules.errors import UsageError


def option(spec: Spec) -> Any:
    """The typer.Option for `spec`: its default, flags, range, path checks and help."""
    checks = {key: getattr(spec, key) for key in ("min", "max") if getattr(spec, key) is not None}
    if spec.kind is Path:
        checks.update(file_okay=spec.file_okay, dir_okay=spec.dir_okay, exists=spec.exists)
    if not spec.show_default:
        checks["show_default"] = False
    return typer.Option(spec.default, *spec.flags, help=spec.help, **checks)


def cli_type(name: str, spec: Spec) -> Any:
    """The type typer parses the option as (a choice of names: an Enum made now)."""
    kind = spec.kind
    if isinstance(kind, Choices):
        kind = Enum(name.title().replace("_", ""), {n: n for n in kind.names()}, type=str)
    elif kind is ANY:
        kind = str
    return kind | None if spec.default is None else kind


def command(api: Callable[..., Any], check: Callable[..., None] | None = None) -> Callable:
    """The typer command for API function `api` (made with api.signature.takes): its
    options, and `check(**options)` first when the command line checks more than the
    API does."""
    options = api.options
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(name, keyword, default=option(spec), annotation=cli_type(name, spec))
        for name, spec in options.specs.items()
    ]

    def run(**values: Any) -> None:
        if check is not None:
            check(**values)
        api(**values)  # the parameters, by name: the API takes the same

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = options.command
    run.__doc__ = options.summary
    return friendly_errors(run)


def update_losses_need_a_plot(*, update_losses: bool, plot: Path | None, **_: Any) -> None:
    """compare's own check: on the command line the losses can only be seen in the plot
    (in Python, the result keeps them for its plot() and update_losses)."""
    if update_losses and plot is None:
        raise UsageError("--update-losses adds a panel to the plot; give --plot PATH too.")
