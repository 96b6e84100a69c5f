"""The engine interface: what the one training loop needs from an implementation.

The loop (training.loop) walks an epoch's plan of chunks (engines.chunks); an engine
supplies each chunk's data (`batches`) and does its forward/backward pass, applying the
SGD update after the last chunk of each update (`step`), and evaluates (`evaluate`).
Those three, and `create` (how the registry makes one), are all an engine must write.
Each step's loss goes into the run's loss ledger (engines.ledger), which the engine is
given at `plan`: the loop, not the engine, reads the running, epoch and per-update
losses from it. An epoch is bracketed by `start_epoch` and `end_epoch` (the loop calls
the latter in a `finally`: it applies whatever the epoch left pending; `batches` only
yields data). The optional hooks below say where an engine may stop, and hand its
weights and optimiser state in and out.

The class attributes are the contract other packages read: the resolver
(config.resolve) the step modes an engine takes, whether they can run here and its
own way to transfer inputs; profile its transfer, pinning and stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from mnist_rules.data.mnist import MnistData
from mnist_rules.engines.chunks import Chunk
from mnist_rules.engines.ledger import LossLedger
from mnist_rules.engines.modes import StepMode, Transfer
from mnist_rules.engines.regions import Regions
from mnist_rules.world import SINGLE, World


def unit_floats(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels as torchvision's ToTensor scales them, float(u8) / 255, bit for bit,
    in a new tensor: every path into the model scales here, so all give the same inputs."""
    return images.float().div_(255)


class Engine(ABC):
    name: ClassVar[str]
    # Whether iterating `batches` does the data loading (a DataLoader), rather than
    # steps and regions of the engine's own (engines.regions).
    loads_in_batches: ClassVar[bool] = False
    # The step modes it takes (besides auto, which the resolver makes one of these), and
    # why, for the message that refuses another.
    step_modes: ClassVar[frozenset[StepMode]] = frozenset({StepMode.eager})
    why_these_modes: ClassVar[str] = "it runs op by op"
    # Stream mode's reader of the mapped training set (data.stream.BlockStream), or None.
    stream = None
    # How inputs reach the device unless asked otherwise (profile's --transfer), how they
    # do in this run, and whether from pinned host memory.
    own_transfer: ClassVar[Transfer] = Transfer.resident
    transfer: Transfer = Transfer.resident
    pinned: bool = False
    # Seconds spent compiling steps so far (the tuned engine's kernel and captured units):
    # not training time, which the loop reports without them.
    compile_seconds = 0.0
    step_mode = StepMode.eager  # how the steps run (the tuned engine has several)

    @classmethod
    @abstractmethod
    def create(cls, model, data, device, lr, step_mode, transfer, pinned, world, stream) -> Engine:
        """The engine for a run, as the registry makes it (engines.registry.create_engine)."""

    @classmethod
    def cannot_run(cls, step_mode: StepMode, device_type: str) -> str | None:
        """Why `step_mode` cannot run on this device type, and what runs instead; None
        when it can (config.resolve then runs it)."""
        return None

    @classmethod
    def prepare_kernel(cls, device: torch.device, samples_per_update: int = 1) -> float:
        """Compile (or load from a cache) the kernel step mode's steps for updates of
        `samples_per_update` now: the seconds it took. Raises what the compiler raised
        when it cannot."""
        raise NotImplementedError(f"the {cls.name} engine has no kernel steps")

    @classmethod
    def kernel_steps_name(cls, device_type: str) -> str:
        return "the kernel steps"

    @classmethod
    def kernel_samples(cls, device_type: str, faster: bool = False) -> int:
        """The most samples per update the kernel step mode's compiled steps take on this
        device type (0: none; larger updates are GEMMs, which it runs as eager does);
        `faster`: the most for which they are measured faster than eager (auto's)."""
        return 0

    def __init__(
        self,
        model: nn.Module,
        data: MnistData,
        device: torch.device,
        lr: float,
        world: World | None = None,
    ):
        self.model = model.to(device)
        self.device = device
        self.lr = lr
        # A torchrun job: each process steps through its part of every update, and the
        # engine sums the gradients over the processes before applying an update.
        self.world = world or SINGLE
        self.regions = Regions()  # named step regions, recorded while profiling

    def plan(self, chunks: Sequence[Chunk], ledger: LossLedger) -> None:
        """Told the epoch plan once, before training, and the ledger its steps write
        their losses into: an engine may pick its path (and CPU threads) from the plan."""
        self.ledger = ledger

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Let go of what holds resources beyond the run (the torch engine's
        DistributedDataParallel holds the process group). The model stays usable."""

    @property
    def threads(self) -> int:
        """CPU threads the engine trains with."""
        return torch.get_num_threads()

    def start_epoch(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> None:  # noqa: B027
        """An epoch (or the rest of one: `chunks`) is about to be trained in `order`."""

    @abstractmethod
    def batches(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> Iterable[Any]:
        """Yield, for each chunk in turn, the training samples at positions
        chunk.start:chunk.stop of `order` (indices into the training set); `chunks` may
        be the rest of an epoch's plan (a resumed epoch). Only data: no arithmetic
        hides in it."""

    def end_epoch(self) -> None:  # noqa: B027 (optional hook)
        """Apply whatever the epoch left pending (the tuned engine's deferred first-layer
        update) and give back what `start_epoch` took: `model` then holds every step
        taken. Called by the loop in a `finally`, also when it stopped early; calling it
        again does nothing."""

    def can_stop_at(self, position: int) -> bool:
        """Whether the loop may stop, or checkpoint, after the update that ends at
        `position` of the epoch's order, and resume later with bit-identical results."""
        return True

    def flush_steps(self) -> None:  # noqa: B027 (optional hook)
        """Run the steps taken but held back, so that the model and the logits are those
        after every step so far (the kernel step mode runs a block's steps in one call,
        at the block's end or when asked)."""

    def sync_model(self) -> None:  # noqa: B027 (optional hook)
        """Mid-epoch, at a position where it can stop: make `model` hold every update
        so far (an engine may keep some in its own buffers until the epoch ends)."""

    @abstractmethod
    def step(self, batch: Any, chunk: Chunk) -> None:
        """Add chunk.weight x the gradient of the batch's mean cross-entropy to the
        accumulated gradient, and its loss to the ledger; if chunk.last, apply
        p -= lr * grad and clear it."""

    @abstractmethod
    def evaluate(self) -> float:
        """Test accuracy in percent, over the whole test set."""

    def sgd_state(self) -> dict[str, Any]:
        """The SGD optimiser's state_dict, as torch.optim.SGD lays it out. Plain SGD (no
        momentum) keeps nothing per parameter: only its settings."""
        return torch.optim.SGD(self.model.parameters(), lr=self.lr).state_dict()

    def load_sgd_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Take an optimiser state saved by `sgd_state` (the lr is checked before)."""

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's state_dict, on the CPU."""
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
