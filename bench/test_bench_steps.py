"""One update step: a per-sample step and a mini-batch step (100 images), per engine,
step mode and device, data included (the torch engine's DataLoader item and copy to
the device; the tuned engine's gather from its resident images). Each round is one
update and ends synchronised with the device.

The tuned engine's per-sample steps come in blocks of 128 (engines.tuned.blocked_sample_sgd):
one step in 128 also runs the block's GEMMs (eager), or the whole block (graph and
compiled modes defer to the block's last step). So for that engine a step's minimum
and median are the cheap steps and its mean the amortised cost; the epoch benchmark
(test_bench_rules.py) has the cost that counts.
"""

from __future__ import annotations

import pytest

from conftest import synchronize, variants
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.report.profiling import endless_steps
from mnist_rules.training.loop import TrainingRun

STEPS = {  # rule -> (warm-up rounds, timed rounds)
    "sample": (256, 2_048),
    "batch": (20, 200),
}


@pytest.mark.parametrize(("engine", "mode", "device"), variants())
@pytest.mark.parametrize("rule", list(STEPS))
def test_step(benchmark, full_size_data, rule, engine, mode, device):
    benchmark.group = f"step: rule={rule}"
    run = TrainingRun(
        TrainConfig(rule=rule, engine=engine, step_mode=mode, device=device), full_size_data
    )
    steps = endless_steps(run)

    def one_step():
        batch, chunk = next(steps)
        run.engine.step(batch, chunk)
        synchronize(device)

    warmup, rounds = STEPS[rule]
    benchmark.pedantic(one_step, rounds=rounds, warmup_rounds=warmup)
    steps.close()  # ends the epoch: the engine gives back the process's threads
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info.update(mean_us=round(benchmark.stats.stats.mean * 1e6, 2))
