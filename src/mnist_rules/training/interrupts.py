"""Ctrl-C (SIGINT) and SIGTERM while training: stop after the update in progress.

A signal handler that raised at once could land between two ops of an update and
leave the model half-updated. Instead it sets STOP, which the training loop reads
after each update (a Python attribute read: no cost to speak of) and then stops
cleanly, keeping the finished epochs. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    def __init__(self) -> None:
        self.signal: int | None = None  # the signal that asked, until the run stops

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""


STOP = StopRequest()


@contextlib.contextmanager
def stop_after_update_on_signals() -> Iterator[None]:
    """Within: SIGINT and SIGTERM set STOP; a second one raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def ask_to_stop(signum, frame):
        if STOP.signal is not None:
            raise KeyboardInterrupt
        STOP.signal = signum

    previous = {s: signal.signal(s, ask_to_stop) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        STOP.signal = None
