"""Ctrl-C (SIGINT) and SIGTERM while training: the run stops after the update in
progress, keeps its finished epochs, says where it stopped, and exits 130."""

import json
import re
import signal
import subprocess
import sys

import pytest

from mnist_rules.config.train_config import TrainConfig
from mnist_rules.errors import Interrupted
from mnist_rules.training.interrupts import STOP, stop_after_update_on_signals
from mnist_rules.training.loop import train
from stop_requests import SignalIn


@pytest.mark.parametrize("engine", ["torch", "tuned"])
def test_the_loop_stops_after_the_update_in_progress(tiny_data, engine):
    config = TrainConfig(rule="sample", engine=engine, epochs=3, device="cpu")
    try:
        with pytest.raises(Interrupted) as caught:
            train(config, tiny_data, reporter=SignalIn(epoch=2))
    finally:
        STOP.signal = None
    stopped = caught.value
    assert stopped.exit_code == 130 and len(stopped.result.epochs) == 1
    assert "Interrupted (SIGINT) at epoch 2, update" in str(stopped)
    assert "stopped after that update. 1 epoch had finished." in str(stopped)


def test_handlers_are_restored_and_a_second_signal_stops_at_once():
    before = signal.getsignal(signal.SIGTERM)
    with stop_after_update_on_signals():
        handler = signal.getsignal(signal.SIGTERM)
        handler(signal.SIGTERM, None)  # the first asks
        assert STOP.signal == signal.SIGTERM and STOP.name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):  # the second does not wait
            handler(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGTERM) is before and STOP.signal is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_a_training_process_keeps_the_finished_epochs(tiny_root, tmp_path, sig):
    out = tmp_path / "r.json"
    command = [sys.executable, "-m", "mnist_rules", "train", "--rule", "sample",
               "--epochs", "500", "--device", "cpu", "--data-dir", str(tiny_root),
               "--json", str(out)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # one line per finished epoch (stdout is not a terminal)
            if line.startswith("epoch   1/500"):
                break
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    # The signal comes just after epoch 1's line: in epoch 2, or still between epochs.
    assert re.search(rf"Interrupted \({sig.name}\) (at|after) epoch", stderr), stderr
    assert "Traceback" not in stderr and "training stopped" in stderr and str(out) in stderr
    epochs = json.loads(out.read_text())["epochs"]
    assert len(epochs) >= 1 and [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
