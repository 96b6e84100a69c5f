"""A run's peak memory: the growth of the process's peak while it trained, each run on
its own where Linux lets the peak be reset."""

import torch

from mnist_rules.config.train_config import TrainConfig
from mnist_rules.training.loop import train
from mnist_rules.training.memory import PeakMemory

MB = 2**20
CPU = torch.device("cpu")


def test_the_growth_covers_what_was_allocated_and_touched():
    memory = PeakMemory(CPU)
    block = torch.ones(200 * MB // 4)  # 200 MB, written (so resident)
    assert memory.growth(CPU) >= 150 * MB
    del block


def test_each_measurement_has_its_own_peak():
    block = torch.ones(200 * MB // 4)
    del block  # the process's lifetime peak is now at least 200 MB above its size
    memory = PeakMemory(CPU)
    small = torch.ones(MB // 4)
    growth = memory.growth(CPU)
    assert growth < 100 * MB, "a peak from before the measurement was counted"
    del small


def test_a_run_records_its_peak(tiny_data):
    result = train(TrainConfig(rule="batch", epochs=1, device="cpu"), tiny_data).result
    assert isinstance(result.peak_memory_bytes, int) and result.peak_memory_bytes >= 0
    assert result.to_dict()["peak_memory_bytes"] == result.peak_memory_bytes
