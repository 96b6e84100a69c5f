"""Named regions of a training step (`mnist-rules profile`).

Engines mark where a step's time goes: data (host-side fetching and decoding),
transfer (host-to-device copies), forward, backward and update (or, for the kernel
step mode's per-sample SGD, the block's GEMMs and the compiled steps). Off by default (a
record_function costs a microsecond or two even with no profiler running, a percent
of a tuned per-sample step); `profile` turns on one of two modes:
- timing: each region's wall time summed with perf_counter (well under a microsecond
  per region), which is how the step's time is split;
- enabled: each region is a torch.profiler record_function, for the trace.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

from torch.profiler import record_function

DATA = "mnist_rules::data"
TRANSFER = "mnist_rules::transfer"
FORWARD = "mnist_rules::forward"
BACKWARD = "mnist_rules::backward"
UPDATE = "mnist_rules::update"
# The kernel step mode's per-sample work: the block's torch GEMMs, and the compiled steps.
BLOCK_GEMMS = "mnist_rules::block_gemms"
STEPS = "mnist_rules::steps"
COMPUTE = (FORWARD, BACKWARD, UPDATE, BLOCK_GEMMS, STEPS)
# The epoch's start on the device: its order (and the tuned engine's labels in that
# order) copied over once an epoch. profile's transfer is per step: it leaves the copies
# made in here out, and the time (a few microseconds an epoch) falls in overhead.
EPOCH_START = "mnist_rules::epoch_start"

_NOTHING = contextlib.nullcontext()


class _Timer:
    """Adds the wall time of each `with` to seconds[name]; reused, never nested."""

    def __init__(self, seconds: dict[str, float], name: str) -> None:
        self.seconds, self.name, self.start = seconds, name, 0.0

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.seconds[self.name] += time.perf_counter() - self.start


class Regions:
    """`regions(NAME)`: a timer while `timing`, a record_function while `enabled`,
    else a shared no-op."""

    def __init__(self) -> None:
        self.enabled = False
        self.timing = False
        self.seconds: dict[str, float] = defaultdict(float)
        self._timers: dict[str, _Timer] = {}
        self.copied_bytes = 0  # host-to-device bytes engines copied while timing

    def count_copy(self, *tensors) -> None:
        """Count the bytes of tensors about to be copied to the device (if timing)."""
        if self.timing:
            self.copied_bytes += sum(t.nbytes for t in tensors)

    def reset(self) -> None:
        self.seconds.clear()
        self.copied_bytes = 0

    def __call__(self, name: str):
        if self.timing:
            if name not in self._timers:
                self._timers[name] = _Timer(self.seconds, name)
            return self._timers[name]
        return record_function(name) if self.enabled else _NOTHING
