"""The pure-Torch engine: the straightforward PyTorch a user would write, and the
baseline the faster engine is measured against. A torchvision dataset with
ToTensor(), a DataLoader, .to(device) per batch, autograd, torch.optim.SGD. Kept
honest: nothing here is slowed on purpose, and nothing is tuned."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

from mnist_rules.engines.base import Engine
from mnist_rules.rules import Chunk

EVAL_BATCH_SIZE = 1000


class TorchEngine(Engine):
    name = "torch"

    def __init__(self, model, data, device, lr):
        super().__init__(model, data, device, lr)
        self.train_set = data.train
        if data.train_size < len(data.train):
            self.train_set = Subset(data.train, range(data.train_size))
        self.test_loader = DataLoader(data.test, batch_size=EVAL_BATCH_SIZE)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)  # no momentum
        # Losses: each chunk's mean, weighted by its size, summed on the device.
        self._loss_sum = torch.zeros((), device=device)
        self._loss_samples = 0  # a host counter: reading it costs no sync
        self._update_losses: torch.Tensor | None = None  # set by record_update_losses
        self._update_loss = torch.zeros((), device=device)  # the update being built
        self._update_index = 0

    def batches(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> DataLoader:
        # One DataLoader batch per chunk: a batch_sampler of index lists, so the chunks
        # of an update (and so its samples) are exactly those the plan names.
        order_list = order.tolist()
        return DataLoader(
            self.train_set, batch_sampler=[order_list[c.start : c.stop] for c in chunks]
        )

    def step(self, batch, chunk: Chunk) -> None:
        images, labels = batch
        images, labels = images.to(self.device), labels.to(self.device)
        loss = F.cross_entropy(self.model(images), labels)
        (loss * chunk.weight if chunk.weight != 1.0 else loss).backward()
        self._record_loss(loss, chunk)
        if chunk.last:
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

    def record_update_losses(self, updates_per_epoch: int) -> None:
        self._update_losses = torch.zeros(updates_per_epoch, device=self.device)
        self._update_index = 0

    def _record_loss(self, mean_loss: torch.Tensor, chunk: Chunk) -> None:
        loss = mean_loss.detach()
        self._loss_sum += loss * chunk.size
        self._loss_samples += chunk.size
        if self._update_losses is None:
            return
        if chunk.weight == 1.0:  # the whole update in one chunk: one device op, no sync
            self._update_losses[self._update_index] = loss
        else:  # the update's mean loss is the weighted sum of its chunks' means
            self._update_loss += loss * chunk.weight
            if chunk.last:
                self._update_losses[self._update_index] = self._update_loss
                self._update_loss.zero_()
        self._update_index += chunk.last

    def take_update_losses(self) -> torch.Tensor:
        if self._update_losses is None:
            return torch.zeros(0)
        # copy=True: on the CPU, .cpu() would return a view the next epoch overwrites
        losses = self._update_losses[: self._update_index].to("cpu", copy=True)
        self._update_index = 0
        return losses

    def running_loss(self) -> float:
        return self._loss_sum.item() / max(1, self._loss_samples)

    def take_epoch_loss(self) -> float:
        loss = self.running_loss()
        self._loss_sum.zero_()
        self._loss_samples = 0
        return loss
