"""One way to fail for every command: a one-paragraph message on stderr and an exit
code (2 usage, 1 other, 130 interrupted); a traceback only with --debug. Warnings
(a fallback taken, say) are one line on stderr too."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TypeVar

import typer

from mnist_rules.errors import RunStopped, UsageError, UserError
from mnist_rules.training.distributed import world_from_env

F = TypeVar("F", bound=Callable)


class _State:
    debug = False  # set by the app's callback on every invocation


state = _State()


def print_error(message: str) -> None:
    from rich.console import Console  # here, not at the top: --help does not need rich
    from rich.text import Text

    # soft_wrap: the terminal wraps the paragraph; rich must not insert newlines into it.
    Console(stderr=True).print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """warnings.showwarning for the CLI: one line on stderr, no source location."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True).print(Text.assemble(("warning: ", "yellow"), str(message)), soft_wrap=True)


def _is_cli_control_flow(exc: BaseException) -> bool:
    # typer.Exit/Abort, and click-style usage errors (which format their own message):
    # Typer handles these itself. Duck-typed because Typer may vendor click or not.
    return isinstance(exc, (typer.Exit, typer.Abort)) or hasattr(exc, "format_message")


def friendly_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                if not state.debug:
                    warnings.showwarning = print_warning
                return command(*args, **kwargs)
        except UserError as exc:
            if state.debug:
                raise
            world = world_from_env()
            if world.is_main:
                print_error(str(exc))
            elif not isinstance(exc, (RunStopped, UsageError)):  # those are the same everywhere
                print_error(f"(process {world.rank} of {world.size}) {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            print_error("Interrupted; nothing was written for the unfinished run.")
            raise typer.Exit(130) from None
        except Exception as exc:
            if state.debug or _is_cli_control_flow(exc):
                raise
            print_error(
                f"Unexpected {type(exc).__name__}: {exc}. This is a bug in mnist-rules or a"
                " problem with its environment; rerun with --debug for the traceback."
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
