"""The commands' start-up: their heavy imports (torch, rich, the training loop) made
without the garbage collector running, and, in the command line's own process, kept
out of its sight afterwards (docs/engines.md, "Start-up", has the figures).

Importing torch leaves about 275,000 objects for the collector and little garbage, yet
the collector walks them again and again while they are made (0.1-0.25 s here), and
once more when the interpreter exits (0.4 s). Only the command line freezes them
(gc.freeze): in someone else's Python process the collector's state is theirs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Set by the command line's main(): this process is ours, from start to exit.
FREEZE_AFTER_IMPORTS = False


@contextmanager
def heavy_imports() -> Iterator[None]:
    """Run the block (the imports) with garbage collection paused, then restore it; in
    the command line, freeze what the imports made (gc.freeze)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if FREEZE_AFTER_IMPORTS:
            gc.freeze()
        if enabled:
            gc.enable()
