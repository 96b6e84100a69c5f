"""One epoch of each rule, per engine, step mode and device, through the training loop.

Model and data set-up, and one warm-up round (which also captures or compiles the
tuned engine's units), are outside the timed region; each round ends with the
engine's epoch-loss read, which synchronises the device. The per-sample rule is
timed over its first 2,000 updates (a whole epoch of the plain engine takes over a
minute on 2 cores); extra_info projects that to 60,000.

    nox -s bench            # or: pytest bench --benchmark-only
"""

from __future__ import annotations

import math

import pytest

from conftest import variants
from mnist_rules.config.rules import RULES
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.modes import EngineName
from mnist_rules.training.loop import TrainingRun

SAMPLE_RULE_UPDATES = 2_000
# Rounds per engine: about the same wall time for each (the tuned engine's epochs are
# 7-15x shorter), so that each has the same chance of meeting a quiet spell on a
# shared machine; the gate compares minimums.
ROUNDS = {EngineName.torch: 5, EngineName.tuned: 20}


@pytest.mark.parametrize(("engine", "mode", "device"), variants())
@pytest.mark.parametrize("rule", list(RULES))
def test_epoch(benchmark, full_size_data, rule, engine, mode, device):
    benchmark.group = f"epoch: rule={rule}"
    subset = SAMPLE_RULE_UPDATES if rule == "sample" else None
    config = TrainConfig(
        rule=rule, engine=engine, step_mode=mode, device=device, train_subset=subset
    )
    run = TrainingRun(config, full_size_data)  # set-up outside the timed region
    loss, _seconds, updates = benchmark.pedantic(
        run.train_epoch, rounds=ROUNDS[engine], warmup_rounds=1
    )
    assert updates == run.updates_per_epoch and math.isfinite(loss)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing to record
        return
    n = run.result.train_size
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        samples=n,
        updates=updates,
        us_per_update=round(median / updates * 1e6, 2),
        projected_seconds_per_60k_epoch=round(median * 60_000 / n, 3),
    )
