"""One process against two under torchrun (gloo on the CPU) for the epoch rule: what
data-parallel training buys on this machine. Each round is a whole `torchrun ...
mnist-rules train` job (start-up, data, two epochs); the figure to read is the
seconds per epoch it reports, kept in extra_info and printed by bench/speedups.py:
epoch 2's (epoch 1 pays for warm-up and gloo's first connections), best of the rounds.
"""

import json
import subprocess
import sys

import pytest

ROUNDS = 2


@pytest.mark.parametrize("nproc", [1, 2])
@pytest.mark.parametrize("engine", ["torch", "tuned"])
def test_torchrun_epoch(benchmark, full_size_root, tmp_path, engine, nproc):
    out = tmp_path / "r.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc}", "-m", "mnist_rules", "train", "--rule", "epoch",
               "--engine", engine, "--epochs", "2", "--device", "cpu",
               "--data-dir", str(full_size_root), "--json", str(out), "--quiet"]  # fmt: skip
    epoch_seconds = []

    def job():
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        # torchrun's own lines and every rank's traceback: without them a CI failure
        # says only "exit status 1"
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
        epochs = json.loads(out.read_text())["epochs"]
        epoch_seconds.append(epochs[1]["train_seconds"])

    benchmark.group = "torchrun: epoch rule, 1 vs 2 processes (whole jobs)"
    benchmark.pedantic(job, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(nproc=nproc, engine=engine, epoch_seconds=min(epoch_seconds))
