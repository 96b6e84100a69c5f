"""The one loop, checked against hand-written SGD (micrograd-style: the loop's result
against plain PyTorch arithmetic on the same samples in the same order)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook

from mnist_rules.config.train_config import TrainConfig
from mnist_rules.errors import UsageError
from mnist_rules.model import build_mlp
from mnist_rules.training.loop import train
from mnist_rules.training.reporter import REFRESHES_PER_EPOCH


def tensors(data, n=None):
    """The training set as (N, 784) floats in [0, 1] and labels, as the engines see it."""
    n = n or data.train_size
    return data.train.data[:n].reshape(n, -1).float() / 255, data.train.targets[:n]


def sgd_reference(data, seed, lr, epochs, batches_of_epoch):
    """Plain SGD written out: for each update, the mean loss over its samples, autograd,
    then p -= lr * grad. `batches_of_epoch(epoch)` lists each update's sample indices.

    The update is written add_(grad, alpha=-lr), as torch.optim.SGD rounds it: `p -= lr *
    p.grad` rounds lr * grad first, and those 1-ulp differences grow to ~5e-6 within 12
    updates on this tiny set, which would hide the differences these tests look for."""
    model = build_mlp(seed)
    x, y = tensors(data)
    for epoch in range(epochs):
        for idx in batches_of_epoch(epoch):
            model.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
    return model.state_dict()


def max_weight_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


def run(tiny_data, **kw):
    """The loop's tests run the torch engine (its optimiser is torch.optim.SGD's, whose
    steps a hook counts): the plain baseline, no longer the default."""
    return train(TrainConfig(**{"engine": "torch", **kw}), data=tiny_data)


def test_full_batch_accumulated_by_chunks_equals_loss_over_all_samples_at_once(tiny_data):
    # 512 samples in chunks of 64: eight weighted backward passes make one update.
    trained = run(tiny_data, rule="epoch", epochs=1, chunk_size=64, device="cpu")
    n = tiny_data.train_size
    reference = sgd_reference(tiny_data, 0, 0.1, 1, lambda e: [torch.arange(n)])
    got = trained.engine.weights()
    assert max_weight_diff(got, reference) < 1e-6
    assert max_weight_diff(got, build_mlp(0).state_dict()) > 1e-4  # and it did move


def test_batch_rule_is_minibatch_sgd_over_a_fresh_permutation_each_epoch(tiny_data):
    trained = run(tiny_data, rule="batch", epochs=2, batch_size=100, seed=3)
    rng = torch.Generator().manual_seed(3)  # the documented order: randperm(N) per epoch
    perms = [torch.randperm(512, generator=rng) for _ in range(2)]
    reference = sgd_reference(tiny_data, 3, 0.1, 2, lambda e: perms[e].split(100))
    assert max_weight_diff(trained.engine.weights(), reference) < 1e-6


def test_batch_larger_than_a_chunk_is_still_one_update(tiny_data):
    trained = run(tiny_data, rule="batch", epochs=1, batch_size=150, chunk_size=64)
    perm = torch.randperm(512, generator=torch.Generator().manual_seed(0))
    reference = sgd_reference(tiny_data, 0, 0.1, 1, lambda e: perm.split(150))
    assert max_weight_diff(trained.engine.weights(), reference) < 1e-6
    assert trained.result.epochs[0].updates == 4


def test_sample_rule_updates_once_per_image_in_dataset_order(tiny_data):
    trained = run(tiny_data, rule="sample", epochs=1, lr=0.01)
    reference = sgd_reference(tiny_data, 0, 0.01, 1, lambda e: torch.arange(512).split(1))
    assert max_weight_diff(trained.engine.weights(), reference) < 1e-6


@pytest.mark.parametrize(
    "rule,batch_size,per_epoch",
    [
        ("epoch", 100, 1),
        ("batch", 100, math.ceil(512 / 100)),
        ("batch", 64, 8),
        ("sample", 100, 512),
    ],
)
def test_optimizer_steps_per_epoch_are_1_ceil_n_over_b_or_n(tiny_data, rule, batch_size, per_epoch):
    steps = []
    hook = register_optimizer_step_post_hook(lambda *a: steps.append(1))
    try:
        trained = run(tiny_data, rule=rule, epochs=2, batch_size=batch_size)
    finally:
        hook.remove()
    assert len(steps) == 2 * per_epoch  # counted at the optimizer, not by the loop
    assert [e.updates for e in trained.result.epochs] == [per_epoch, per_epoch]


def test_same_seed_gives_identical_metrics_and_weights(tiny_data):
    a = run(tiny_data, rule="batch", epochs=2, seed=5)
    b = run(tiny_data, rule="batch", epochs=2, seed=5)
    metrics = lambda r: [(e.train_loss, e.test_acc, e.updates) for e in r.result.epochs]  # noqa: E731
    assert metrics(a) == metrics(b)
    assert max_weight_diff(a.engine.weights(), b.engine.weights()) == 0.0
    c = run(tiny_data, rule="batch", epochs=2, seed=6)
    assert max_weight_diff(a.engine.weights(), c.engine.weights()) > 1e-3


def test_minibatch_sgd_learns_the_tiny_set(tiny_data):
    result = run(tiny_data, rule="batch", epochs=5, batch_size=32).result
    losses = [e.train_loss for e in result.epochs]
    assert losses[-1] < 0.5 * losses[0]
    assert result.final.test_acc >= 90.0
    assert all(e.train_seconds > 0 and e.eval_seconds > 0 for e in result.epochs)


def test_results_record_the_run(tiny_data):
    result = run(tiny_data, rule="sample", epochs=1, seed=9, train_subset=None).result
    assert (result.rule, result.engine, result.device, result.dataset) == (
        "sample",
        "torch",
        "cpu",
        "mnist",
    )
    assert (result.lr, result.batch_size, result.seed, result.train_size) == (0.01, 1, 9, 512)
    assert result.torch_version == torch.__version__
    assert result.shuffle is False


class CountingReporter:
    def __init__(self):
        self.calls = {"start_run": 0, "start_epoch": 0, "advance": 0, "end_epoch": 0}
        self.losses_read = 0

    def start_run(self, run, updates_per_epoch):
        self.calls["start_run"] += 1

    def start_epoch(self, epoch, samples, updates):
        self.calls["start_epoch"] += 1

    def advance(self, samples, updates, running_loss):
        self.calls["advance"] += 1
        assert math.isfinite(running_loss())
        self.losses_read += 1

    def end_epoch(self, result):
        self.calls["end_epoch"] += 1


def test_progress_is_refreshed_about_100_times_an_epoch_not_per_update(tiny_data):
    reporter = CountingReporter()
    config = TrainConfig(rule="sample", engine="torch", epochs=2)
    train(config, data=tiny_data, reporter=reporter)
    assert reporter.calls["start_run"] == 1
    assert reporter.calls["start_epoch"] == reporter.calls["end_epoch"] == 2
    # 512 updates an epoch, refreshed every 6: at most 100 loss reads (syncs) per epoch
    assert 2 * (REFRESHES_PER_EPOCH // 2) <= reporter.calls["advance"] <= 2 * REFRESHES_PER_EPOCH
    assert reporter.losses_read < 2 * 512


def test_refreshes_wait_for_the_tuned_engines_per_sample_blocks_to_end(tiny_data):
    """A refresh reads the losses, which runs the steps held back: inside a block of 128
    it would split the block's compiled steps. So they come at block ends: four an epoch
    of 512, the last of them the epoch's end."""
    reporter = CountingReporter()
    config = TrainConfig(rule="sample", engine="tuned", step_mode="eager", epochs=2)
    train(config, data=tiny_data, reporter=reporter)
    assert reporter.calls["advance"] == 2 * 4


def test_a_refresh_due_inside_a_block_comes_at_its_end_and_none_is_lost():
    """The policy alone: refreshes due every 600 of 60,000 samples, blocks of 128."""
    from mnist_rules.training.epoch_policy import EpochPolicy
    from mnist_rules.training.plan import plan_epoch

    chunks = plan_epoch(60_000, 1, 1)
    policy = EpochPolicy(chunks, lambda position: position % 128 == 0, None, 0)
    at = [c.stop for i, c in enumerate(chunks) if policy.refresh_due(i, c)]
    assert at[:3] == [640, 1280, 1920] and at[-1] == 60_000
    assert all(p % 128 == 0 for p in at[:-1]) and len(at) == 100
    anywhere = EpochPolicy(chunks, lambda position: True, None, 0)
    assert sum(anywhere.refresh_due(i, c) for i, c in enumerate(chunks)) == 100
    resumed = EpochPolicy(chunks, lambda position: position % 128 == 0, None, 0, first=1280)
    later = [c.stop for i, c in enumerate(chunks[1280:], 1280) if resumed.refresh_due(i, c)]
    assert later == at[2:]


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"epochs": 0}, "--epochs"),
        ({"lr": 0.0}, "--lr"),
        ({"lr": float("nan")}, "--lr"),
        ({"lr": float("inf")}, "--lr"),
        ({"batch_size": 0}, "--batch-size"),
    ],
)
def test_bad_settings_are_usage_errors(kw, match):
    with pytest.raises(UsageError, match=match):
        TrainConfig(**kw)


def test_batch_larger_than_training_set_is_refused(tiny_data):
    with pytest.raises(UsageError, match="larger than the training set"):
        run(tiny_data, rule="batch", batch_size=513)


def test_train_subset_applies_to_data_passed_in(tiny_data):
    # compare-style callers load once and pass the data; the subset must still apply.
    result = run(tiny_data, rule="sample", epochs=1, train_subset=64).result
    assert result.train_size == 64 and result.epochs[0].updates == 64
    with pytest.raises(UsageError, match="--train-subset"):
        run(tiny_data, train_subset=10_000)


def loss_at_init(data, idx):
    x, y = tensors(data)
    with torch.no_grad():
        return F.cross_entropy(build_mlp(0)(x[idx]), y[idx]).item()


@pytest.mark.parametrize(
    "rule,batch_size,chunk_size,per_epoch,first_update",
    [
        # epoch rule in 8 chunks of 64: the one update's loss is the mean over all 512
        ("epoch", None, 64, 1, torch.arange(512)),
        # batches of 150 in chunks of 64: three chunks make one update, weights 64/150...
        ("batch", 150, 64, 4, None),
        ("sample", None, 1000, 512, torch.arange(1)),
    ],
)
def test_update_losses_are_each_updates_mean_loss_before_it(
    tiny_data, rule, batch_size, chunk_size, per_epoch, first_update
):
    trained = run(
        tiny_data,
        rule=rule,
        epochs=2,
        batch_size=batch_size,
        chunk_size=chunk_size,
        record_update_losses=True,
    )
    assert [len(t) for t in trained.update_losses] == [per_epoch, per_epoch]
    sizes = torch.tensor(
        [min(trained.result.batch_size, 512 - s) for s in range(0, 512, trained.result.batch_size)]
    )
    for losses, epoch in zip(trained.update_losses, trained.result.epochs, strict=True):
        # weighted by update size, the update losses average to the epoch's train loss
        assert (losses * sizes).sum().item() / 512 == pytest.approx(epoch.train_loss, rel=1e-5)
    if first_update is None:  # the batch rule shuffles: its first update is perm[:150]
        first_update = torch.randperm(512, generator=torch.Generator().manual_seed(0))[:150]
    assert trained.update_losses[0][0].item() == pytest.approx(
        loss_at_init(tiny_data, first_update), rel=1e-5
    )


def test_update_losses_are_not_kept_unless_asked(tiny_data):
    assert run(tiny_data, rule="sample", epochs=1).update_losses == []
