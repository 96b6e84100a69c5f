"""The tuned engine: the same SGD as the torch engine with the overhead taken out.

- Data: the images decoded once into one uint8 tensor and moved to the device once
  (pinned + non_blocking on CUDA); scaled to float on the device a chunk or block at a
  time, with ToTensor's arithmetic (float(u8) / 255), so the inputs are bit-identical.
- Math: the MLP's backward written out (engines.mlp_steps), the update fused into it;
  per-sample SGD defers the first layer's updates a block at a time
  (engines.blocked_sample_sgd), which is where that rule's time went.
- No host sync per step: each sample's logits are written into one device tensor;
  losses are computed from it when the loop asks (once per epoch, and at the
  reporter's refreshes).
- CPU threads: one while training per-sample steps (measured faster than two: a
  step's ops are too small to split) except for the per-block GEMMs, which use all
  cores; all cores for the other rules. Set for the epoch's loop only, so evaluation
  and whatever runs next keep the process's setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from mnist_rules.engines.base import Engine
from mnist_rules.engines.blocked_sample_sgd import BlockedSampleSgd
from mnist_rules.engines.mlp_steps import MlpParams, chunk_step
from mnist_rules.rules import Chunk

CLASSES = 10
EVAL_CHUNK = 2000


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One copy to the device; from pinned memory and asynchronous on CUDA."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class TunedEngine(Engine):
    name = "tuned"

    def __init__(self, model, data, device, lr):
        super().__init__(model, data, device, lr)
        self.lr = lr
        self.params = MlpParams(self.model)
        n = data.train_size
        self.images = to_device(data.train_images.reshape(n, -1).contiguous(), device)
        self.labels = to_device(data.train.targets[:n], device)
        test = data.test
        self.test_images = to_device(test.data.reshape(len(test), -1).contiguous(), device)
        self.test_labels = to_device(test.targets, device)
        self._logits = torch.zeros(n, CLASSES, device=device)
        self._onehot = torch.zeros(n, CLASSES, device=device)
        self._done = 0  # samples of this epoch trained so far (a host counter)
        self._rows: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per-sample views
        self._per_sample = False
        self._samples_per_update = n
        self._keep_update_losses = False
        self._epoch_sample_losses: torch.Tensor | None = None
        self._blocked = BlockedSampleSgd(self.params, lr, device)
        self._train_threads = torch.get_num_threads()

    def plan(self, chunks: Sequence[Chunk]) -> None:
        first = chunks[0]
        self._per_sample = first.size == 1 and first.last
        self._samples_per_update = next(c.stop for c in chunks if c.last)
        cores = torch.get_num_threads()
        self._train_threads = 1 if self._per_sample else cores
        if self.device.type == "cpu":  # the per-block GEMMs are big enough to share
            self._blocked.block_threads = cores

    def _inputs(self, idx: torch.Tensor) -> torch.Tensor:
        return self.images[idx].float().div_(255)  # as ToTensor: float(u8) / 255

    def batches(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> Iterator:
        order = order.to(self.device)
        # One-hot labels in training order, written into the buffer the row views see.
        self._onehot.zero_().scatter_(1, self.labels[order].unsqueeze(1), 1.0)
        self._done = 0
        threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self._train_threads)
        try:
            yield from (self._samples if self._per_sample else self._chunks)(order, chunks)
        finally:  # also when the loop stops early: the process gets its threads back
            torch.set_num_threads(threads)

    def _chunks(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> Iterator:
        for c in chunks:
            x = self._inputs(order[c.start : c.stop])
            yield x, self._onehot[c.start : c.stop], self._logits[c.start : c.stop]

    def _samples(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> Iterator:
        if self._rows is None:  # 2 x 60,000 views: made once, not every epoch
            self._rows = list(zip(self._onehot.unbind(0), self._logits.unbind(0), strict=True))
        rows = self._rows
        sgd = self._blocked
        sgd.begin()
        try:
            for c in chunks:
                i = c.start
                if i % sgd.block == 0:
                    sgd.next_block(self._inputs(order[i : i + sgd.block]))
                yield rows[i]  # (one-hot label, logits out)
        finally:  # also when the loop stops early: the model holds every step taken
            sgd.end()

    def step(self, batch, chunk: Chunk) -> None:
        if self._per_sample:
            self._blocked.step(*batch)
        else:
            x, onehot, logits_out = batch
            chunk_step(self.params, x, onehot, logits_out, chunk.weight, self.lr, chunk.last)
        self._done = chunk.stop

    def _sample_losses(self, upto: int) -> torch.Tensor:
        log_probs = torch.log_softmax(self._logits[:upto], 1)
        return -(log_probs * self._onehot[:upto]).sum(1)

    def running_loss(self) -> float:
        return self._sample_losses(self._done).mean().item() if self._done else 0.0

    def take_epoch_loss(self) -> float:
        losses = self._sample_losses(self._done)
        self._epoch_sample_losses = losses if self._keep_update_losses else None
        self._done = 0
        return losses.mean().item()

    def record_update_losses(self, updates_per_epoch: int) -> None:
        self._keep_update_losses = True

    def take_update_losses(self) -> torch.Tensor:
        losses = self._epoch_sample_losses
        if losses is None:
            return torch.zeros(0)
        # The mean over each update's samples: updates are consecutive runs of positions.
        update = torch.arange(len(losses), device=self.device) // self._samples_per_update
        updates = int(update[-1]) + 1
        sums = torch.zeros(updates, device=self.device).index_add_(0, update, losses)
        sizes = torch.bincount(update, minlength=updates)
        return (sums / sizes).to("cpu", copy=True)

    @torch.no_grad()
    def evaluate(self) -> float:
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        for start in range(0, len(self.test_images), EVAL_CHUNK):
            x = self.test_images[start : start + EVAL_CHUNK].float().div_(255)
            labels = self.test_labels[start : start + EVAL_CHUNK]
            correct += (self.params.logits(x).argmax(1) == labels).sum()
        return 100.0 * correct.item() / len(self.test_images)

    @property
    def threads(self) -> int:
        return self._train_threads if self.device.type == "cpu" else torch.get_num_threads()
