"""The `mnist-rules` command line. Nothing here imports torch at module level, so that
--help and --version answer at once; commands import what they need when they run."""

from mnist_rules.cli.app import app


def main() -> None:
    app(prog_name="mnist-rules")
