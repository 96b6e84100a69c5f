"""The Typer app: global options, and one module per command."""

from __future__ import annotations

import typer

import mnist_rules
from mnist_rules.cli import errors
from mnist_rules.cli.compare import compare
from mnist_rules.cli.make_large import make_large
from mnist_rules.cli.profile import profile
from mnist_rules.cli.sweep import sweep
from mnist_rules.cli.train import train

app = typer.Typer(
    name="mnist-rules",
    cls=errors.OneParagraphErrors,  # click's usage errors printed as ours are
    help="Train one MLP on MNIST with the three classic gradient-descent update rules "
    "(full batch, mini-batch, per sample) and measure what each costs and buys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # errors are handled in cli.errors; --debug re-raises
    rich_markup_mode=None,  # plain help: rich's help renderer alone costs ~0.25 s
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mnist-rules {mnist_rules.__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="MNIST_RULES_DEBUG",
        help="Show tracebacks instead of short errors.",
    ),
) -> None:
    errors.state.debug = debug


app.command(no_args_is_help=False)(train)
app.command(no_args_is_help=False)(compare)
app.command(no_args_is_help=False)(sweep)
app.command(no_args_is_help=False)(profile)
app.command("make-large")(make_large)
