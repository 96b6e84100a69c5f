"""The cost of an update along the samples-per-update axis: the tuned engine on the
CPU at b = 1, 2, 5, 10, 20, 50, 100 and 1000 samples per update, in the step mode
`sweep` runs it with (auto: the compiled loop up to kernel_backends.FASTER_UP_TO,
50, eager GEMMs above) and eagerly. Each size trains the first SAMPLES images of real MNIST with the
rule `sweep` gives it (its learning rate and shuffling). Real images, not generated
ones: the compiled loop skips the rows of layer 2 whose ReLU gradient is zero, so its
cost follows how many are open, which the data and the learning rate set.

A round trains every size once, in turn, so that all sizes meet the same spells of a
shared machine (one size after another, a drift of 30% within the run showed as a
step along the axis). pytest-benchmark times the rounds; each size's seconds in each
round go to extra_info, where bench/speedups.py reads them: the epoch time along the
axis (the gate: it never rises by more than 15% from one size to the next), b = 2 and
b = 10 against b = 1, the fit t(b) = t0 + c*b per step mode, and the per-sample epoch
against its standing goal.

    pytest bench/test_bench_sizes.py --benchmark-only
"""

from __future__ import annotations

import math
import time

import pytest

from mnist_rules.config.rules import rule_for_size
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.training.loop import TrainingRun
from optional_packages import needs_numba

SIZES = (1, 2, 5, 10, 20, 50, 100, 1000)
# A tenth of an epoch: whole blocks for every size, and 6 updates at b = 1000.
SAMPLES = 6_000
ROUNDS = {"auto": 9, "eager": 3}  # eager's small sizes take 5-10x longer
pytestmark = [pytest.mark.realdata, needs_numba]


@pytest.fixture(scope="module")
def mnist(real_data_dir):
    return load(DatasetName.mnist, real_data_dir, train_subset=SAMPLES)


def size_run(size: int, mode: str, data) -> TrainingRun:
    rule = rule_for_size(size)
    batch_size = size if rule.takes_batch_size else None
    config = TrainConfig(rule=rule.name, batch_size=batch_size, engine="tuned", step_mode=mode,
                         device="cpu", train_subset=SAMPLES)  # fmt: skip
    return TrainingRun(config, data)


@pytest.mark.parametrize("mode", list(ROUNDS))
def test_sizes(benchmark, mnist, mode):
    benchmark.group = "sizes"
    runs = {size: size_run(size, mode, mnist) for size in SIZES}
    seconds: dict[int, list[float]] = {size: [] for size in SIZES}

    def one_round():
        for size, run in runs.items():
            start = time.perf_counter()
            loss, _, updates = run.train_epoch()
            seconds[size].append(time.perf_counter() - start)
            assert updates == math.ceil(SAMPLES / size) and math.isfinite(loss)

    benchmark.pedantic(one_round, rounds=ROUNDS[mode], warmup_rounds=1)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run
        return
    warmed = {size: times[1:] for size, times in seconds.items()}  # the warm-up round out
    benchmark.extra_info.update(
        sizes_mode=mode,
        samples=SAMPLES,
        ran={str(size): run.result.step_mode for size, run in runs.items()},
        seconds={str(size): times for size, times in warmed.items()},
    )
