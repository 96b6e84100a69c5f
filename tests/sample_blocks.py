"""One block of per-sample steps, as the kernel step mode's tests (numba on the CPU,
Triton on CUDA or in its interpreter) run it against the eager blocked step."""

import torch

from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.model import build_mlp


def one_block(make, x, onehot, pieces=(), device=torch.device("cpu")):
    """A block of per-sample steps from build_mlp(0), made by `make(params, block)`,
    its steps run in `pieces` (the steps taken so far run whenever asked):
    (params, logits, signal)."""
    p = MlpParams(build_mlp(0).to(device))
    sgd = make(p, len(x))
    logits = torch.zeros(len(x), 10, device=device)
    sgd.begin()
    sgd.start_block(x, onehot, logits)
    for k in range(len(x)):
        sgd.step(onehot[k], logits[k])
        if k + 1 in pieces:
            sgd.run_pending()
    signal = sgd.signal.clone()
    sgd.end()
    return p, logits, signal


def block_data(size, device=torch.device("cpu")):
    """`size` random images in [0, 1] and one-hot labels, the same for every caller."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(size, 784, generator=g)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 10, (size,), generator=g), 10)
    return x.to(device), onehot.float().to(device)


def record_step_calls(monkeypatch, sgd_class) -> list[tuple[int, int]]:
    """The ranges of a block's steps that `sgd_class.run_pending` runs from now on,
    (first, stop) each: a block that runs whole is one (0, block) call. On CUDA a block
    is replayed from its graph only when it runs whole."""
    calls = []
    run_pending = sgd_class.run_pending

    def recording(self):
        if self.ran < self.k:
            calls.append((self.ran, self.k))
        run_pending(self)

    monkeypatch.setattr(sgd_class, "run_pending", recording)
    return calls
