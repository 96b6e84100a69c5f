"""A run's peak memory while training, the reference's other cost of an update size:
mini-batches exist, it argues, because the full data does not fit in memory.

On the CPU: the growth of the process's peak resident set over its size before the run.
Linux lets a process reset its peak (writing 5 to /proc/self/clear_refs), so each run of
a series is measured on its own; where that is refused, the lifetime peak (getrusage)
stands in, and a later run that needs less than an earlier one shows no growth. On
CUDA: the growth of torch.cuda.max_memory_allocated, reset at the run's start."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

try:
    import resource  # POSIX only
except ImportError:  # Windows: no lifetime peak to fall back on
    resource = None

_STATUS = Path("/proc/self/status")


def _status_bytes(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Started before a run is set up (with its device, where known then: the data it
    moves to a GPU counts); `growth(device)` after it trained."""

    def __init__(self, device: torch.device | None = None) -> None:
        self._rss = _status_bytes("VmRSS")
        self._own_peak = self._rss is not None and _reset_peak()
        self._lifetime = _lifetime_peak()
        self._cuda: int | None = None
        if device is not None:
            self.start_device(device)

    def start_device(self, device: torch.device) -> None:
        """On CUDA, the allocator's peak from here (once: a later call changes nothing)."""
        if device.type == "cuda" and self._cuda is None:
            torch.cuda.reset_peak_memory_stats(device)
            self._cuda = torch.cuda.memory_allocated(device)

    def growth(self, device: torch.device) -> int | None:
        """Bytes the peak grew by while the run set up and trained (None: not measurable
        on this system)."""
        if self._cuda is not None:
            return max(0, torch.cuda.max_memory_allocated(device) - self._cuda)
        if self._own_peak:
            peak = _status_bytes("VmHWM")
            if peak is not None:
                return max(0, peak - self._rss)
        now = _lifetime_peak()
        if now is None or self._lifetime is None:
            return None
        return max(0, now - max(self._lifetime, self._rss or 0))


def _lifetime_peak() -> int | None:
    """The process's peak resident set so far, in bytes (getrusage: KiB on Linux, bytes
    on macOS), or None where there is no getrusage."""
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
