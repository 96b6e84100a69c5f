"""The gradient noise scale's math (theory.noise_scale), checked against torch.func's
per-sample gradients, and its estimators against the quantities they estimate."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from mnist_rules.model import build_mlp
from mnist_rules.theory import noise_scale as ns

pytestmark = pytest.mark.quick


def small_batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 784, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return images, labels


def per_sample_grads(model, images, labels) -> torch.Tensor:
    """torch.func's per-sample gradients, flattened: (n, parameters), float64."""
    model = model.double()
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, x, y):
        out = functional_call(model, p, (x.unsqueeze(0),))
        return F.cross_entropy(out, y.unsqueeze(0))

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, images.double(), labels)
    return torch.cat([g.reshape(len(images), -1) for g in grads.values()], dim=1)


@pytest.mark.parametrize("seed", [0, 3])
def test_per_sample_norms_match_torch_func(seed):
    model = build_mlp(seed)
    images, labels = small_batch(64, seed)
    norms, sums = ns.per_sample_moments(model, images, labels)
    grads = per_sample_grads(build_mlp(seed), images, labels)
    torch.testing.assert_close(norms, grads.square().sum(1), rtol=1e-9, atol=0)
    flat_sum = torch.cat([s.reshape(-1) for s in sums])
    torch.testing.assert_close(flat_sum, grads.sum(0), rtol=1e-9, atol=1e-12)


def test_the_noise_scale_matches_torch_func_within_1e_6():
    model = build_mlp(1)
    images, labels = small_batch(300, 1)
    measured = ns.measure(model, images, labels)
    grads = per_sample_grads(build_mlp(1), images, labels)
    n = len(grads)
    mean = grads.mean(0)
    trace = n / (n - 1) * float((grads - mean).square().sum(1).mean())  # tr(Σ̂) directly
    g2 = float(mean.square().sum()) - trace / n
    assert measured.n == n
    assert math.isclose(measured.trace_sigma, trace, rel_tol=1e-6)
    assert math.isclose(measured.g2, g2, rel_tol=1e-6)
    assert math.isclose(measured.b_simple, trace / g2, rel_tol=1e-6)


def test_chunks_do_not_change_the_measurement(monkeypatch):
    model = build_mlp(0)
    images, labels = small_batch(50)
    whole = ns.measure(model, images, labels)
    monkeypatch.setattr(ns, "CHUNK", 7)
    chunked = ns.measure(model, images, labels)
    assert math.isclose(chunked.b_simple, whole.b_simple, rel_tol=1e-9)


def test_the_model_measured_is_left_as_it_was():
    model = build_mlp(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ns.measure(model, *small_batch(20))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None and p.dtype == torch.float32 for p in model.parameters())


def test_the_estimators_are_unbiased():
    """Per-sample gradients drawn from a known distribution (mean G, covariance Σ):
    averaged over many draws, tr(Σ̂) and |G|²̂ come to tr(Σ) and |G|², while the naive
    |ḡ|² overshoots |G|² by tr(Σ)/n."""
    generator = torch.Generator().manual_seed(0)
    dims, n, draws = 5, 8, 20_000
    true_g = torch.tensor([0.3, -0.2, 0.1, 0.0, 0.4], dtype=torch.float64)
    scales = torch.tensor([1.0, 0.5, 2.0, 0.1, 1.5], dtype=torch.float64)
    samples = true_g + scales * torch.randn(
        draws, n, dims, generator=generator, dtype=torch.float64
    )
    estimates = [
        ns.from_moments(float(g.square().sum(1).mean()), float(g.mean(0).square().sum()), n)
        for g in samples
    ]
    true_trace, true_g2 = float(scales.square().sum()), float(true_g.square().sum())
    mean_trace = sum(e.trace_sigma for e in estimates) / draws
    mean_g2 = sum(e.g2 for e in estimates) / draws
    naive = sum(e.mean_grad_sq for e in estimates) / draws
    assert mean_trace == pytest.approx(true_trace, rel=0.02)
    assert mean_g2 == pytest.approx(true_g2, abs=0.03)
    assert naive == pytest.approx(true_g2 + true_trace / n, abs=0.03)  # the bias corrected


def test_a_gradient_lost_in_the_noise_has_no_noise_scale():
    lost = ns.from_moments(mean_sq_norm=10.0, mean_grad_sq=1.0, n=10)  # |G|²̂ = 0
    assert lost.g2 == pytest.approx(0.0) and lost.b_simple is None
    with pytest.raises(ValueError):
        ns.from_moments(1.0, 1.0, 1)


def test_the_samples_read_are_fixed_by_the_seed():
    first = ns.sample_indices(1000, 100, seed=4)
    assert torch.equal(first, ns.sample_indices(1000, 100, seed=4))
    assert not torch.equal(first, ns.sample_indices(1000, 100, seed=5))
    assert len(set(first.tolist())) == 100 and int(first.max()) < 1000
