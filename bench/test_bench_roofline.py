"""The GEMM roofline of the batch and epoch rules: the bare matrix products of one
epoch's forward and backward passes, with nothing else (no data, no activations, no
softmax, no Python loop beyond the products), on the CPU.

Those two rules are GEMM-bound: the tuned engine's epoch is these products plus a
little elementwise work. Its ratio to the torch engine moves with the machine (a CPU
with faster GEMMs speeds up both, and shrinks the tuned engine's lead: 4.4x on an
Intel Xeon, 6-9x on an AMD EPYC, on unchanged code), but its ratio to this roofline,
measured in the same run on the same BLAS, says how much of the epoch is overhead on
any machine. bench/speedups.py gates it.

Per update of B samples (chunks of at most 1,000), as engines.tuned.mlp_steps does them:
forward h1 = x W1^T, h2 = a1 W2^T, z = a2 W3^T; backward dL/da2 = dz W3, dL/da1 = dh2
W2; weight gradients dW3 = dz^T a2, dW2 = dh2^T a1, dW1 = dh1^T x.
"""

from __future__ import annotations

import pytest
import torch

from mnist_rules.config.rules import DEFAULT_BATCH_SIZE
from mnist_rules.config.train_config import DEFAULT_CHUNK_SIZE
from mnist_rules.model import LAYER_SIZES

TRAIN = 60_000
ROUNDS = 20  # as many as the tuned engine's epochs (test_bench_rules.py)
CHUNK_ROWS = {"batch": DEFAULT_BATCH_SIZE, "epoch": DEFAULT_CHUNK_SIZE}


def epoch_gemms(rows: int):
    """A function doing one epoch's products for chunks of `rows` samples, into buffers
    made once (so that it times the products alone)."""
    sizes = LAYER_SIZES  # 784, 400, 256, 10
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    x = rand(rows, sizes[0])
    weights = [rand(sizes[i + 1], sizes[i]) for i in range(3)]
    acts = [rand(rows, sizes[i + 1]) for i in range(3)]  # h1, h2, z (and their grads)
    grads = [torch.empty_like(w) for w in weights]
    back = [torch.empty(rows, sizes[i]) for i in (1, 2)]  # dL/da1, dL/da2
    inputs = [x, acts[0], acts[1]]

    def run() -> None:
        for _ in range(TRAIN // rows):
            for i in range(3):
                torch.mm(inputs[i], weights[i].t(), out=acts[i])
            torch.mm(acts[2], weights[2], out=back[1])
            torch.mm(acts[1], weights[1], out=back[0])
            for i in range(3):
                torch.mm(acts[i].t(), inputs[i], out=grads[i])

    return run


@pytest.mark.parametrize("device", ["cpu"])
@pytest.mark.parametrize("rule", list(CHUNK_ROWS))
def test_roofline(benchmark, rule, device):
    benchmark.group = f"epoch: rule={rule}"
    run = epoch_gemms(CHUNK_ROWS[rule])
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update(roofline=rule, gemms_per_epoch=8 * TRAIN // CHUNK_ROWS[rule])
