"""What `noise_scale` returns: B_simple, |G|² and tr(Σ) at each point of the training
(theory.noise_scale), the run trained between them, and the JSON, table and figure made
from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_rules.api.display import Parts, Shown
from mnist_rules.atomic import write_json
from mnist_rules.training.results import RunResult

if TYPE_CHECKING:  # no torch here: the readings are made in api.noise_scale
    from mnist_rules.theory.noise_scale import NoiseReading

NOISE_SCHEMA_VERSION = 1


@dataclass(repr=False)
class NoiseScaleResult(Shown):
    """`readings`: one per point (epoch 0: the initial weights), `run`: the training
    between them, `samples`: the images each point was measured over."""

    readings: list[NoiseReading]
    run: RunResult
    samples: int

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "samples": self.samples,
            "rule": run.rule,
            "batch_size": run.batch_size,
            "lr": run.lr,
            "seed": run.seed,
            "engine": run.engine,
            "points": [r.to_dict() | {"test_acc": self._acc(r.epoch)} for r in self.readings],
            "run": run.to_dict(),
            "schema_version": NOISE_SCHEMA_VERSION,
        }

    def _acc(self, epoch: int) -> float | None:
        return self.run.epochs[epoch - 1].test_acc if epoch else None

    def write_json(self, path: Path) -> None:
        write_json(path, self.to_dict())

    def rows(self) -> list[dict[str, Any]]:
        return self.to_dict()["points"]

    def parts(self) -> Parts:
        from mnist_rules.report.noise_tables import noise_sentence, noise_table

        return [(noise_table(self.readings, self.run, self.samples), False),
                (noise_sentence(self.readings), True)]  # fmt: skip

    def plot(self):
        """B_simple, |G|² and tr(Σ) against the epochs trained: a matplotlib Figure."""
        from mnist_rules.report.noise_plot import noise_figure

        return noise_figure(self.readings, self.run, self.samples)
