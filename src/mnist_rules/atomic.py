"""Write files so that a reader never sees half of one: write a temporary file beside
the target, flush it to disk, then rename it over the target (atomic on POSIX and
Windows). If anything fails before the rename, the temporary file is removed and the
target is left as it was."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_rules.errors import UsageError


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target`."""
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would:
        # the target's own if it exists, else 0666 less the umask.
        os.chmod(tmp, _mode_for(target))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it: put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def write_json(target: Path, obj: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def check_writable(target: Path, option: str) -> None:
    """Fail before any training if `target` could not be written afterwards."""
    target = Path(target).expanduser()
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(
            f"{option} {target}: the directory {parent} does not exist. Create it"
            " first or choose another path."
        )
    if target.is_dir():
        raise UsageError(f"{option} {target} is a directory; give a file path.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {target}: the directory {parent} is not writable. Choose"
            " a path you can write to."
        )
    # Permission bits do not tell everything (/proc, a read-only mount, a full disk, root):
    # make a file there and take it away again, as the write will later.
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}.check-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"{option} {target}: cannot create a file in {parent} ({exc.strerror or exc})."
            " Choose a path you can write to."
        ) from None
