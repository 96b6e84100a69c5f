"""The loss ledger, on its own: both ways of writing into it give the losses that
F.cross_entropy gives, update by update, and a stopped epoch's state carries on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnist_rules.engines.ledger import LossLedger
from mnist_rules.training.plan import plan_epoch

N, CLASSES = 50, 10


@pytest.fixture
def logits_and_labels():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(N, CLASSES, generator=generator)
    labels = torch.randint(0, CLASSES, (N,), generator=generator)
    return logits, labels


def expected_update_losses(logits, labels, per_update):
    return torch.stack(
        [F.cross_entropy(logits[i : i + per_update], labels[i : i + per_update])
         for i in range(0, N, per_update)]
    )  # fmt: skip


def by_chunks(chunks, logits, labels) -> LossLedger:
    """Written as the torch engine writes it: each chunk's mean loss."""
    ledger = LossLedger(chunks)
    for c in chunks:
        ledger.add(F.cross_entropy(logits[c.start : c.stop], labels[c.start : c.stop]), c)
    return ledger


def by_logits(chunks, logits, labels, upto=N) -> LossLedger:
    """Written as the tuned engine writes it: per-sample logits, read when asked."""
    ledger = LossLedger(chunks)
    ledger.keep_logits(logits, F.one_hot(labels, CLASSES).float(), flush=lambda: None)
    ledger.trained_to(upto)
    return ledger


# 50 samples: updates of 1, of 8 (a short last one of 2) in chunks of 3, and one of all 50
@pytest.mark.parametrize(("per_update", "chunk_size"), [(1, 1000), (8, 3), (N, 7)])
@pytest.mark.parametrize("write", [by_chunks, by_logits])
def test_both_ways_of_writing_give_cross_entropys_losses(
    logits_and_labels, per_update, chunk_size, write
):
    logits, labels = logits_and_labels
    chunks = plan_epoch(N, per_update, chunk_size)
    ledger = write(chunks, logits, labels)
    torch.testing.assert_close(
        ledger.update_losses(), expected_update_losses(logits, labels, per_update)
    )
    whole = F.cross_entropy(logits, labels).item()
    assert ledger.epoch_loss() == pytest.approx(whole, rel=1e-6)
    assert ledger.running_loss() == pytest.approx(whole, rel=1e-6)
    assert ledger.first_nonfinite_update() is None


def test_the_running_loss_is_over_the_samples_trained_so_far(logits_and_labels):
    logits, labels = logits_and_labels
    ledger = by_logits(plan_epoch(N, 1, 1000), logits, labels, upto=20)
    assert ledger.running_loss() == pytest.approx(F.cross_entropy(logits[:20], labels[:20]).item())
    ledger.trained_to(N)  # read again later: the new samples are added, not the old twice
    assert ledger.running_loss() == pytest.approx(F.cross_entropy(logits, labels).item())


@pytest.mark.parametrize("write", [by_chunks, by_logits])
def test_the_first_nonfinite_update_is_named(logits_and_labels, write):
    logits, labels = logits_and_labels
    logits = logits.clone()
    logits[19, 3] = float("nan")  # sample 19: the third update of 8
    ledger = write(plan_epoch(N, 8, 1000), logits, labels)
    assert ledger.first_nonfinite_update() == 2


@pytest.mark.parametrize("write", [by_chunks, by_logits])
def test_a_stopped_epochs_state_finishes_it_with_the_same_losses(logits_and_labels, write):
    logits, labels = logits_and_labels
    chunks = plan_epoch(N, 8, 3)
    whole = write(chunks, logits, labels)
    stop = 24  # the end of the third update
    first = [c for c in chunks if c.stop <= stop]
    if write is by_chunks:
        part = by_chunks(first, logits, labels)  # a plan of the first three updates only
        state = part.state()
        resumed = LossLedger(chunks)
        resumed.start_epoch(state)
        for c in chunks[len(first) :]:
            resumed.add(F.cross_entropy(logits[c.start : c.stop], labels[c.start : c.stop]), c)
    else:
        state = by_logits(chunks, logits, labels, upto=stop).state()
        resumed = by_logits(chunks, torch.zeros_like(logits), labels, upto=0)  # logits lost
        resumed.start_epoch(state)
        rest = torch.cat([torch.zeros(stop, CLASSES), logits[stop:]])  # only the rest written
        resumed.keep_logits(rest, F.one_hot(labels, CLASSES).float(), flush=lambda: None)
        resumed.trained_to(N)
    assert state["samples"] == stop and state["updates"] == 3
    assert torch.equal(resumed.update_losses(), whole.update_losses())
    assert resumed.epoch_loss() == whole.epoch_loss()


def test_a_new_epoch_starts_afresh(logits_and_labels):
    logits, labels = logits_and_labels
    chunks = plan_epoch(N, 8, 1000)
    ledger = by_chunks(chunks, logits, labels)
    ledger.start_epoch()
    assert ledger.running_loss() == 0.0 and ledger.samples == 0
    assert torch.count_nonzero(ledger.means) == 0
