import itertools
import math

import pytest

from mnist_rules.config.rules import RULES
from mnist_rules.training.plan import plan_epoch


@pytest.mark.parametrize("n,b", [(512, 100), (600, 100), (7, 3), (1, 1), (5, 10)])
def test_updates_per_epoch_are_one_ceil_n_over_b_and_n(n, b):
    assert RULES["epoch"].updates_per_epoch(n, b) == 1
    assert RULES["batch"].updates_per_epoch(n, b) == math.ceil(n / min(b, n))
    assert RULES["sample"].updates_per_epoch(n, b) == n


def test_reference_learning_rates_and_shuffling():
    assert {name: rule.default_lr for name, rule in RULES.items()} == {
        "epoch": 0.1,
        "batch": 0.1,
        "sample": 0.01,
    }
    assert RULES["batch"].shuffle_by_default
    assert not RULES["sample"].shuffle_by_default


@pytest.mark.parametrize(
    "n,spu,max_chunk",
    [
        (512, 512, 64),
        (512, 100, 1000),
        (512, 150, 64),
        (10, 1, 1000),
        (1000, 1000, 1000),
        (7, 7, 3),
    ],
)
def test_plan_covers_every_sample_once_in_updates_of_the_rule_size(n, spu, max_chunk):
    chunks = plan_epoch(n, spu, max_chunk)
    # contiguous, in order, covering [0, n) exactly once
    assert chunks[0].start == 0 and chunks[-1].stop == n
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    assert all(0 < c.size <= max_chunk for c in chunks)
    # updates end exactly at multiples of spu (and at n), and their weights sum to 1
    ends = [c.stop for c in chunks if c.last]
    assert ends == [min(k + spu, n) for k in range(0, n, spu)]
    weight, start = 0.0, 0
    for c in chunks:
        weight += c.weight
        assert c.weight == pytest.approx(c.size / (min(start + spu, n) - start))
        if c.last:
            assert weight == pytest.approx(1.0)
            weight, start = 0.0, c.stop
    assert chunks[-1].last


def test_plan_rejects_non_positive_sizes():
    with pytest.raises(ValueError):
        plan_epoch(0, 1, 1)
    with pytest.raises(ValueError):
        plan_epoch(10, 0, 1)
