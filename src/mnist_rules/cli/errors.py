"""One way to fail for every command: a one-paragraph message on stderr and an exit
code (2 usage, 1 other, 130 interrupted); a traceback only with --debug. Warnings
(a fallback taken, say) are one line on stderr too."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

import typer
from typer.core import TyperGroup

from mnist_rules.errors import RunStopped, UsageError, UserError
from mnist_rules.world import world_from_env

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


class OneParagraphErrors(TyperGroup):
    """Typer's command group, with click's own usage errors (a --epochs 0, a --json that
    is a directory, an unknown option) printed as every other error is: one paragraph
    after `error:` on stderr, and exit 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            print_error("Aborted.")
            sys.exit(1)
        except typer.TyperException as exc:  # click's exceptions, as Typer vendors them
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                exc.show()  # the help, as click shows it
                sys.exit(getattr(exc, "exit_code", 2))
            message = exc.format_message().rstrip(".")
            ctx = getattr(exc, "ctx", None)  # a usage error knows its command
            if ctx is not None:
                message += f". Try '{ctx.command_path} --help' for the options"
            print_error(message + ".")
            sys.exit(exc.exit_code)
        # Without standalone mode click returns the command's value, or an exit's code.
        sys.exit(code if isinstance(code, int) else 0)
