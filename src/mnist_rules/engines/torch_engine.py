"""The pure-Torch engine: the straightforward PyTorch a user would write, and the
baseline the faster engine is measured against. A torchvision dataset with
ToTensor(), a DataLoader, .to(device) per batch, autograd, torch.optim.SGD. Kept
honest: nothing here is slowed on purpose, and nothing is tuned.

The dataset is torchvision's MNIST class itself, with its own __getitem__ (each image
made a PIL image, then ToTensor()), over the tensors data.mnist read from the files
(the same tensors torchvision reads: they are not read twice). torchvision is imported
when this engine is made, so that only its runs pay the ~1.3 s that takes.

For `mnist-rules profile`, two data paths a PyTorch user would also write: batches
from pinned memory (DataLoader(pin_memory=True), non_blocking copies), and the whole
set decoded once onto the device (a TensorDataset of device tensors, same
arithmetic as ToTensor), so nothing is copied per step."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from mnist_rules.engines.base import Engine, unit_floats
from mnist_rules.engines.chunks import Chunk
from mnist_rules.engines.modes import Transfer
from mnist_rules.engines.regions import BACKWARD, FORWARD, TRANSFER, UPDATE

EVAL_BATCH_SIZE = 1000


class TorchEngine(Engine):
    name = "torch"
    loads_in_batches = True
    why_these_modes = "the torch engine is the plain PyTorch baseline and runs op by op"
    own_transfer = Transfer.per_step  # a DataLoader's batches, copied each step

    @classmethod
    def create(cls, model, data, device, lr, step_mode, transfer, pinned, world, stream):
        return cls(model, data, device, lr, transfer, pinned, world=world, stream=stream)

    def __init__(
        self, model, data, device, lr, transfer=None, pinned=False, *, world=None, stream=None
    ):
        super().__init__(model, data, device, lr, world)
        # Stream mode: batches cut from the blocks of a memory-mapped set (data/stream.py),
        # not a DataLoader over a torchvision dataset, which would page the whole file in.
        self.stream = stream
        if stream is not None:
            self._stream_labels = data.train.targets[: data.train_size]
        # Data-parallel: DistributedDataParallel, as a PyTorch user would, its hook
        # summing the processes' gradients (each is weighted by its share of the update).
        self.net = self.model
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
            self.net.register_comm_hook(None, _sum_gradients)
        self.transfer = Transfer(transfer or Transfer.per_step)
        self.pinned = pinned and device.type == "cuda"  # pinning needs CUDA
        if stream is not None:
            self.train_set = None
        elif self.transfer is Transfer.resident:
            n = data.train_size
            images = unit_floats(data.train_images.unsqueeze(1))  # as ToTensor
            self.train_set = TensorDataset(images.to(device), data.train.targets[:n].to(device))
        elif data.train_size < len(data.train):
            self.train_set = Subset(torchvision_mnist(data.train), range(data.train_size))
        else:
            self.train_set = torchvision_mnist(data.train)
        self.test_loader = DataLoader(torchvision_mnist(data.test), batch_size=EVAL_BATCH_SIZE)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)  # no momentum

    def start_epoch(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> None:
        if self.stream is not None:  # its reader starts on the epoch's first block
            self.stream.start_epoch(order)

    def batches(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> DataLoader:
        # One DataLoader batch per chunk: a batch_sampler of index lists, so the chunks
        # of an update (and so its samples) are exactly those the plan names.
        if self.stream is not None:
            return self._streamed(order, chunks)
        order_list = order.tolist()
        return DataLoader(
            self.train_set,
            batch_sampler=[order_list[c.start : c.stop] for c in chunks],
            pin_memory=self.pinned and self.transfer is Transfer.per_step,
        )

    def _streamed(self, order: torch.Tensor, chunks: Sequence[Chunk]):
        for c in chunks:
            rows = self.stream.rows(c.start, c.size)  # on the device already (CUDA)
            images = unit_floats(rows.reshape(-1, 1, 28, 28))  # as ToTensor
            yield images, self._stream_labels[order[c.start : c.stop]]

    def step(self, batch, chunk: Chunk) -> None:
        region = self.regions
        images, labels = batch
        with region(TRANSFER):  # no copy when the batch is already there (resident, CPU)
            if images.device.type != self.device.type:
                region.count_copy(images, labels)
            images = images.to(self.device, non_blocking=self.pinned)
            labels = labels.to(self.device, non_blocking=self.pinned)
        # Only an update's last chunk sums the gradients over processes (no_sync).
        local = self.net.no_sync() if self.net is not self.model and not chunk.last else None
        with local or contextlib.nullcontext():
            with region(FORWARD):
                loss = F.cross_entropy(self.net(images), labels)
            with region(BACKWARD):
                (loss * chunk.weight if chunk.weight != 1.0 else loss).backward()
        self.ledger.add(loss, chunk)  # one device op: no sync
        if chunk.last:
            with region(UPDATE):
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        for images, labels in self.test_loader:
            logits = self.model(images.to(self.device))
            correct += (logits.argmax(dim=1) == labels.to(self.device)).sum()
        self.model.train()
        return 100.0 * correct.item() / len(self.test_loader.dataset)

    def sgd_state(self) -> dict:
        return self.optimizer.state_dict()

    def load_sgd_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def close(self) -> None:
        # DDP's C++ reducer keeps the process group alive past destroy_process_group;
        # left to interpreter shutdown, gloo's threads were destroyed unjoined
        # ("terminate called without an active exception", SIGABRT) in about one
        # torchrun job in ten. Unwrapped, the group goes when the run stops it.
        self.net = self.model


def torchvision_mnist(split) -> Dataset:
    """torchvision's MNIST dataset with ToTensor(), as a PyTorch user makes it, over a
    split data.mnist has read (its `data`, `targets` and `train`): items come from
    torchvision's own __getitem__, without its __init__ reading the files again."""
    from torchvision.datasets import MNIST, VisionDataset
    from torchvision.transforms import ToTensor

    dataset = MNIST.__new__(MNIST)
    VisionDataset.__init__(dataset, transform=ToTensor())
    dataset.train, dataset.data, dataset.targets = split.train, split.data, split.targets
    return dataset


def _sum_gradients(process_group, bucket):
    """DDP communication hook: the sum of the processes' gradients (DDP's default
    averages them). The documented all-reduce hook, without its division."""
    import torch.distributed as dist

    group = process_group if process_group is not None else dist.group.WORLD
    work = dist.all_reduce(bucket.buffer(), group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])
