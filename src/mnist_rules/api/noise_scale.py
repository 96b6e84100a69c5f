"""`noise_scale`: the body of `mnist-rules noise-scale`, callable from Python. The
gradient noise scale B_simple = tr(Σ) / |G|² (theory.noise_scale) at the initial weights
and after each epoch of a run trained as `train` would train it; and `noise_along`, the
same measurement along any configured training (sweep measures its winner's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_rules.api.outputs import check_outputs
from mnist_rules.api.signature import takes
from mnist_rules.api.startup import heavy_imports
from mnist_rules.api.train import check_combinations
from mnist_rules.config.options import NOISE_SCALE
from mnist_rules.errors import UsageError
from mnist_rules.world import world_from_env

if TYPE_CHECKING:
    from mnist_rules.api.noise_results import NoiseScaleResult
    from mnist_rules.config.train_config import TrainConfig
    from mnist_rules.data.mnist import MnistData
    from mnist_rules.theory.noise_scale import NoiseReading
    from mnist_rules.training.reporter import Reporter
    from mnist_rules.training.results import RunResult


@takes(NOISE_SCALE, "NoiseScaleResult")
def noise_scale(o) -> NoiseScaleResult:
    """The options are `mnist-rules noise-scale`'s (docs/api.md)."""
    if world_from_env().distributed:
        raise UsageError("mnist-rules noise-scale runs in one process; run it without torchrun.")
    check_combinations(o.rule, o.batch_size, None, None)
    check_outputs(o.json_out, None, o.plot)

    with heavy_imports():
        from mnist_rules.api.noise_results import NoiseScaleResult
        from mnist_rules.api.series import console_for, load_data, print_report
        from mnist_rules.config.train_config import TrainConfig
        from mnist_rules.report.plots import save_figure
        from mnist_rules.report.progress import RichReporter
        from mnist_rules.training.interrupts import stop_after_update_on_signals

    # TrainConfig trains at least one epoch; with --epochs 0 none is trained.
    config = TrainConfig.from_options(o, epochs=max(o.epochs, 1))
    data = load_data(config)
    samples = min(o.samples, data.train_size)
    if samples < 2:
        raise UsageError(
            f"The noise scale needs at least 2 training images; --train-subset gives {samples}."
        )
    console = console_for(o.quiet)
    with stop_after_update_on_signals(), RichReporter(o.epochs, console) as reporter:
        readings, run = noise_along(config, data, samples, o.epochs, reporter)
    result = NoiseScaleResult(readings, run, samples)
    if o.json_out is not None:  # the files first: the training is not lost to a print
        result.write_json(o.json_out)
    if o.plot is not None:
        save_figure(result.plot(), o.plot)
    print_report(console, result.parts(), o.json_out, None, o.plot)
    return result


def noise_along(
    config: TrainConfig, data: MnistData, samples: int, epochs: int, reporter: Reporter
) -> tuple[list[NoiseReading], RunResult]:
    """B_simple over `samples` training images (drawn from config.seed) at the initial
    weights and after each of `epochs` epochs of training `config`; and the run's result."""
    from mnist_rules.engines.base import unit_floats
    from mnist_rules.model import build_mlp
    from mnist_rules.theory.noise_scale import NoiseReading, measure, sample_indices
    from mnist_rules.training.loop import TrainingRun

    chosen = sample_indices(data.train_size, samples, config.seed)
    images = unit_floats(data.train.data[chosen].reshape(len(chosen), -1))
    labels = data.train.targets[chosen]
    model = build_mlp(config.seed)  # on the CPU, whatever the run's device

    def reading(epoch: int, updates: int) -> NoiseReading:
        return NoiseReading(epoch, updates, measure(model, images, labels))

    readings = [reading(0, 0)]
    run = TrainingRun(config, data)
    try:
        reporter.start_run(run.result, run.updates_per_epoch)
        updates = 0
        for epoch in range(1, epochs + 1):
            updates += run.run_epoch(reporter).updates
            model.load_state_dict(run.engine.weights())
            readings.append(reading(epoch, updates))
    finally:
        run.engine.close()
    return readings, run.result
