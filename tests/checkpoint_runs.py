"""What the checkpoint tests share: a checkpointer that keeps every checkpoint it
saved, and the check that two runs are bitwise the same."""

import torch

from mnist_rules.training import checkpoint as ckpt
from mnist_rules.training.checkpoint import Checkpointer


class KeepEach(Checkpointer):
    """Keeps a copy of every checkpoint saved, as a crash could leave any of them."""

    def save(self, state):
        super().save(state)
        self.kept = [*getattr(self, "kept", []), ckpt.read(self.path)]


def assert_same_run(a, b):
    wa, wb = a.engine.weights(), b.engine.weights()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ"
    for ea, eb in zip(a.result.epochs, b.result.epochs, strict=True):
        assert (ea.train_loss, ea.test_acc, ea.updates) == (eb.train_loss, eb.test_acc, eb.updates)
