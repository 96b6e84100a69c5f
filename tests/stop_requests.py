"""Asking a run to stop from inside a test, as the SIGINT handler would."""

import signal

from mnist_rules.training.interrupts import STOP
from mnist_rules.training.reporter import SilentReporter


class SignalIn(SilentReporter):
    """Sets the stop request at the first refresh of `epoch`, as a Ctrl-C would."""

    def __init__(self, epoch):
        self.epoch, self.current = epoch, 0

    def start_epoch(self, epoch, samples, updates):
        self.current = epoch

    def advance(self, samples, updates, running_loss):
        if self.current == self.epoch and STOP.signal is None:
            STOP.signal = signal.SIGINT
