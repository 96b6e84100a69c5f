"""The per-user cache directory: where MNIST is downloaded to (when no --data-dir is
given) and where numba keeps the compiled per-sample loop.

platformdirs knows each system's place for it and is a dependency, but a machine may
run the project without it: the GPU machine it is measured on installs it with
`--no-deps` and has no platformdirs. There the cache goes where platformdirs would put
it on Linux ($XDG_CACHE_HOME, else ~/.cache), with one warning; with no home directory
either, there is no cache (None).
"""

from __future__ import annotations

import os
import warnings
from functools import cache
from pathlib import Path

APP = "mnist-rules"


def user_cache_dir() -> Path | None:
    """The tool's cache directory (not created here); None when there is none."""
    try:
        import platformdirs
    except ImportError:
        base = _home_cache()
        path = None if base is None else base / APP
        _warn_without_platformdirs(path)
        return path
    return Path(platformdirs.user_cache_dir(APP))


@cache
def _warn_without_platformdirs(path: Path | None) -> None:
    """Once per process and place, however often the directory is asked for."""
    where = f"caching in {path}" if path is not None else "and no home directory: no cache"
    warnings.warn(
        f"platformdirs is not installed: {where} (pip install platformdirs for the"
        " system's own cache directory).",
        RuntimeWarning,
        stacklevel=3,
    )


def _home_cache() -> Path | None:
    """$XDG_CACHE_HOME, else ~/.cache; None without a home directory."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"])
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # no $HOME and no password entry for this user
        return None
