"""The results of a training run: the JSON contract other commands and scripts read.

Top level: rule, engine, device, dataset, lr, batch_size (samples per update: N, b or
1), seed, train_size, torch_version, and `epochs`, one entry per finished epoch:
{epoch, train_loss, test_acc (percent), train_seconds (evaluation excluded), updates};
and `evaluations`, one entry per test-set evaluation (--evals-per-epoch of them an epoch,
the last at its end): {epoch, updates, samples, train_seconds, test_acc}, each counted
from the run's start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnist_rules.atomic import write_json

# 4: evaluations, evals_per_epoch, stopped_early. 3: peak_memory_bytes. 2: compile_seconds;
# step_mode compile, kernel.
SCHEMA_VERSION = 4


@dataclass
class EpochResult:
    epoch: int
    train_loss: float  # mean cross-entropy over the epoch's samples, before each update
    test_acc: float  # percent, on the whole test set, after the epoch
    train_seconds: float  # the epoch's updates, device synchronised; evaluation excluded
    updates: int  # parameter updates in this epoch: 1, ceil(N/b) or N
    eval_seconds: float


@dataclass
class Evaluation:
    """One reading of the test accuracy, at an update boundary; counts from the run's start."""

    epoch: int  # the epoch it fell in, from 1
    updates: int  # updates applied before it
    samples: int  # samples trained on before it
    train_seconds: float  # training seconds before it (evaluations excluded)
    test_acc: float  # percent, on the whole test set


@dataclass
class RunResult:
    rule: str
    engine: str
    device: str  # cpu or cuda
    device_name: str  # the CPU model or GPU name
    dataset: str
    lr: float
    batch_size: int  # samples per update
    seed: int
    train_size: int
    test_size: int
    shuffle: bool
    torch_version: str
    mnist_rules_version: str
    threads: int
    step_mode: str = "eager"  # how the steps ran: eager, graph, compile or kernel
    compile_seconds: float = 0.0  # compiling the steps (kernel, captures): not training
    world_size: int = 1  # processes training data-parallel (torchrun); 1 without
    data_mode: str = "resident"  # or "stream": the training images memory-mapped
    # Growth of the peak memory while the run set up and trained (training.memory):
    # the process's resident set on the CPU, the CUDA allocator's on a GPU.
    peak_memory_bytes: int | None = None
    evals_per_epoch: int = 1  # test-set evaluations an epoch, the last at its end
    # Why training ended before its last epoch: "target" or "pruned" (a caller's
    # on_evaluation asked, training.loop.train); None when it ran every epoch.
    stopped_early: str | None = None
    epochs: list[EpochResult] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def final(self) -> EpochResult:
        return self.epochs[-1]

    @property
    def best(self) -> EpochResult:
        return max(self.epochs, key=lambda e: e.test_acc)

    @property
    def total_train_seconds(self) -> float:
        return sum(e.train_seconds for e in self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        write_json(path, self.to_dict())
