"""A run's training and test data: as given, or loaded (under torchrun, by the main
process first, since it may download)."""

from __future__ import annotations

from mnist_rules.config.resolve import data_mode_for
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.data import mnist as data_mod
from mnist_rules.data.mnist import MnistData
from mnist_rules.data.modes import DataMode
from mnist_rules.training import distributed
from mnist_rules.world import World


def data_for(config: TrainConfig, world: World, data: MnistData | None) -> MnistData:
    """The run's data: `data` as given (cut to --train-subset), or loaded by the main
    process first (it may download), then by the others."""
    if data is not None:
        return data if config.train_subset is None else data.with_train_size(config.train_subset)
    root = data_mod.resolve_data_dir(config.data_dir)
    mode = data_mode_for(config, root, world)
    if world.distributed and not world.is_main:
        distributed.barrier()  # the main process loads (downloads) first
    stream = mode is DataMode.stream
    data = data_mod.load(config.dataset, root, config.train_subset, stream=stream)
    if world.distributed and world.is_main:
        distributed.barrier()
    return data
