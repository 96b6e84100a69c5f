"""The `mnist-rules` command line. Nothing here imports torch at module level, so that
--help and --version answer at once; commands import what they need when they run."""

import gc

from mnist_rules.api import startup
from mnist_rules.cli.app import app


def main() -> None:
    startup.FREEZE_AFTER_IMPORTS = True  # this process is the command's, to its exit
    try:
        app(prog_name="mnist-rules")
    finally:
        # The interpreter's exit collects every object once more before tearing them
        # down: 0.4 s after torch is imported, for nothing. Frozen, they are skipped.
        gc.freeze()
