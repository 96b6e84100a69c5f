"""Start-up (issue 25): a tiny run's wall time minus its training time, against a bare
`python -c "import torch"`, both as whole processes, on real MNIST.

Each round runs `python -c "import torch"` (untimed: pedantic's setup) and then

    python -m mnist_rules train --rule batch --epochs 1 --train-subset 1000 \\
        --device cpu --data-dir <real MNIST> --json F

(timed). A round's start-up is its wall time minus the training seconds of its JSON
(epochs[-1].train_seconds: the timed loop alone; what is left is the process's
start and exit, the imports, option parsing, reading the data, building the run, the
evaluation and writing the JSON). --device cpu: on a GPU machine CUDA's own start
would be measured too. The medians over ROUNDS are kept in extra_info and checked by
bench/speedups.py (startup): docs/engines.md, "Start-up", says where the time goes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.realdata

ROUNDS = 7  # at least 5: the gate reads medians


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start


def test_startup(benchmark, real_data_dir, tmp_path):
    out = tmp_path / "r.json"
    train = [sys.executable, "-m", "mnist_rules", "train", "--rule", "batch", "--epochs",
             "1", "--train-subset", "1000", "--device", "cpu", "--data-dir",
             str(real_data_dir), "--json", str(out)]  # fmt: skip
    bare, startups, evals = [], [], []

    def import_torch():  # before each round, on the machine as it is then
        bare.append(_wall([sys.executable, "-c", "import torch"]))

    def run():
        wall = _wall(train)
        epoch = json.loads(out.read_text())["epochs"][-1]
        startups.append(wall - epoch["train_seconds"])
        evals.append(epoch["eval_seconds"])

    benchmark.group = "start-up: a tiny run (1,000 images, 1 epoch) as a whole process"
    benchmark.pedantic(run, setup=import_torch, rounds=ROUNDS, iterations=1)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing to record
        return
    benchmark.extra_info.update(
        startup_seconds=statistics.median(startups),
        bare_torch_import_seconds=statistics.median(bare),
        eval_seconds=statistics.median(evals),
        startup_rounds=len(startups),
    )
