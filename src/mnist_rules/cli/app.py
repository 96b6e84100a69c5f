"""The Typer app: global options, and the commands: those that train made from their
API functions (cli/commands.py), make-large its own module."""

from __future__ import annotations

import typer

import mnist_rules
from mnist_rules.api.compare import compare
from mnist_rules.api.noise_scale import noise_scale
from mnist_rules.api.profile import profile
from mnist_rules.api.sweep import sweep
from mnist_rules.api.train import train
from mnist_rules.cli import errors
from mnist_rules.cli.commands import command, update_losses_need_a_plot
from mnist_rules.cli.make_large import make_large


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mnist-rules {mnist_rules.__version__}")
        raise typer.Exit()


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


def make_app() -> typer.Typer:
    """The app, its commands built from the option tables and the rules as they are now
    (a rule added to config/rules.py is a --rule choice of every command)."""
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
    app.callback()(_global_options)
    app.command(no_args_is_help=False)(command(train))
    app.command(no_args_is_help=False)(command(compare, check=update_losses_need_a_plot))
    app.command(no_args_is_help=False)(command(sweep))
    app.command(no_args_is_help=False)(command(profile))
    app.command("noise-scale", no_args_is_help=False)(command(noise_scale))
    app.command("make-large")(make_large)
    return app


app = make_app()
