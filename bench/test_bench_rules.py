"""One epoch of each rule, per engine and device, through the training loop itself.

Model and data set-up, and one warm-up round, are outside the timed region; each
round ends with the engine's epoch-loss read, which synchronises the device. The
per-sample rule is timed over its first 2,000 updates (a whole epoch of the plain
engine takes over a minute on 2 cores); extra_info projects that to 60,000.

    nox -s bench            # or: pytest bench --benchmark-only
"""

from __future__ import annotations

import math

import pytest

from conftest import devices
from mnist_rules.engines import EngineName
from mnist_rules.rules import RuleName
from mnist_rules.training import TrainConfig, TrainingRun

SAMPLE_RULE_UPDATES = 2_000
ROUNDS = 3


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("engine", list(EngineName))
@pytest.mark.parametrize("rule", list(RuleName))
def test_epoch(benchmark, full_size_data, rule, engine, device):
    benchmark.group = f"rule={rule.value}"
    subset = SAMPLE_RULE_UPDATES if rule is RuleName.sample else None
    config = TrainConfig(rule=rule, engine=engine, device=device, train_subset=subset)
    run = TrainingRun(config, full_size_data)  # set-up outside the timed region
    loss, _seconds, updates = benchmark.pedantic(run.train_epoch, rounds=ROUNDS, warmup_rounds=1)
    assert updates == run.updates_per_epoch and math.isfinite(loss)
    n = run.result.train_size
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        samples=n,
        updates=updates,
        us_per_update=round(median / updates * 1e6, 2),
        projected_seconds_per_60k_epoch=round(median * 60_000 / n, 3),
    )
