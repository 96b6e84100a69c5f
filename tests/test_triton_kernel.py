"""The kernel step mode on CUDA (engines.tuned: triton_sample_sgd, triton_sample_steps):
Triton's fused per-sample steps do the eager blocked step's math and the torch engine's,
give the same bits however a block's steps are split over calls, and let a NaN through
to the logits.

With a GPU the kernels run on it, as in training; without one, on CPU tensors in
Triton's interpreter (TRITON_INTERPRET=1, set in tests/conftest.py). The interpreter
takes some 0.1 s a step (2 cores), so blocks and sets are small, and all but the first
test use 128 units per program (4 programs, the last one masked) instead of ROWS."""

import warnings

import pytest
import torch

import sample_blocks
from mnist_rules.config.resolve import resolve_step_mode
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.engines.tuned import numba_sample_steps
from mnist_rules.engines.tuned import triton_sample_steps as steps
from mnist_rules.engines.tuned.blocked_sample_sgd import BlockedSampleSgd
from mnist_rules.engines.tuned.engine import TunedEngine
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.triton_sample_sgd import TritonSampleSgd
from mnist_rules.model import build_mlp
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import TRITON_STEPS

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
WIDE = 128  # units per program: fewer programs for the interpreter to run one by one
# On the CPU, --step-mode kernel resolves through numba's availability (engines.modes).
resolves_on_cpu = pytest.mark.skipif(
    not CUDA and numba_sample_steps.available() is not None, reason="numba does not import"
)

pytestmark = TRITON_STEPS


def one_block(make, x, onehot, pieces=()):
    return sample_blocks.one_block(make, x, onehot, pieces, DEVICE)


def eager(p, block):
    return BlockedSampleSgd(p, 0.05, DEVICE, block)


def fused(rows=None, **kw):
    return lambda p, block: TritonSampleSgd(p, 0.05, DEVICE, block, rows=rows, **kw)


@pytest.fixture
def block_data():
    return sample_blocks.block_data(64, DEVICE)


def test_one_block_matches_the_eager_blocked_step(block_data):
    ref, ref_logits, ref_signal = one_block(eager, *block_data)
    got, logits, signal = one_block(fused(), *block_data)  # ROWS: 13 programs for 400
    for a, b in zip(ref.tensors, got.tensors, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(signal, ref_signal, rtol=0, atol=1e-6)
    assert (signal == 0).any() and (signal != 0).any()  # the ReLU masks did something
    assert not torch.equal(got.w2, MlpParams(build_mlp(0).to(DEVICE)).w2)  # it moved


def test_a_block_run_in_pieces_is_bitwise_one_call(block_data):
    whole, whole_logits, whole_signal = one_block(fused(WIDE), *block_data)
    pieces, logits, signal = one_block(fused(WIDE), *block_data, pieces=(1, 2, 37, 63))
    for a, b in zip(whole.tensors, pieces.tensors, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(whole_logits, logits) and torch.equal(whole_signal, signal)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's
def test_a_nan_in_an_input_reaches_the_logits(block_data):
    x, onehot = (t[:8].clone() for t in block_data)
    x[3, 100] = float("nan")
    _, ref_logits, _ = one_block(eager, x, onehot)
    _, logits, _ = one_block(fused(WIDE), x, onehot)
    assert logits[:3].isfinite().all() and logits[3:].isnan().all()
    assert torch.equal(logits.isnan(), ref_logits.isnan())


@pytest.mark.skipif(not CUDA, reason="CUDA graphs need a GPU")
def test_replaying_a_block_as_a_cuda_graph_is_bitwise_launch_by_launch(block_data):
    runs = []
    for graphs in (False, True):
        p = MlpParams(build_mlp(0).to(DEVICE))
        sgd = TritonSampleSgd(p, 0.05, DEVICE, 64, graphs=graphs)
        logits = torch.zeros(3, 64, 10, device=DEVICE)
        for b in range(3):  # launches (compiles), captures + replays, replays
            sgd.start_block(block_data[0], block_data[1], logits[b])
            for _ in range(64):
                sgd.step()
            sgd.finish_block()
        assert (sgd._graph is not None) == graphs
        runs.append((p, logits))
    (a, logits_a), (b, logits_b) = runs
    assert all(torch.equal(s, t) for s, t in zip(a.tensors, b.tensors, strict=True))
    assert torch.equal(logits_a, logits_b)


@pytest.fixture
def triton_on_this_device(monkeypatch):
    """The kernel step mode on this device runs Triton's steps: CUDA's rule, and on the
    CPU (the interpreter) the engine's `kernel_steps` pointed at them."""
    if not CUDA:
        monkeypatch.setitem(TunedEngine.kernel_steps, "cpu", "triton")
        monkeypatch.setattr(steps, "ROWS", WIDE)


@resolves_on_cpu
def test_kernel_mode_matches_the_torch_engine_after_two_epochs(
    tiny_data, triton_on_this_device, monkeypatch
):
    """150 samples, shuffled: a block of 128 and one of 22 each epoch (on a GPU the
    second epoch's full block is a CUDA graph's replay)."""
    if CUDA:  # full float32 GEMMs, as in tests/test_cuda.py (the cuBLAS module has no
        # plain attribute for monkeypatch to restore)
        torch.backends.cuda.matmul.allow_tf32 = False
    calls = sample_blocks.record_step_calls(monkeypatch, TritonSampleSgd)
    runs = {}
    for engine, mode in (("torch", "eager"), ("tuned", "kernel")):
        config = TrainConfig(engine=engine, step_mode=mode, device=DEVICE.type, epochs=2,
                             rule="sample", train_subset=150, shuffle=True)  # fmt: skip
        runs[engine] = train(config, data=tiny_data)
    plain, fast = runs["torch"], runs["tuned"]
    assert fast.result.step_mode == "kernel"
    assert isinstance(fast.engine._sample_steps, TritonSampleSgd)
    wa, wb = plain.engine.weights(), fast.engine.weights()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    for a, b in zip(plain.result.epochs, fast.result.epochs, strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.updates == a.updates
        # Weights 1e-5 apart (other code paths, other rounding) may flip a near tie:
        # at most one of the 200 test images.
        assert abs(b.test_acc - a.test_acc) <= 0.5
    # The loop's refreshes (due every 2 samples) waited for the blocks' ends: each
    # epoch's full block ran whole (on a GPU, the second one from the graph).
    assert calls == [(0, 128), (0, 22)] * 2
    assert fast.engine._sample_steps.replays == (1 if CUDA else 0)


@pytest.mark.skipif(not CUDA, reason="CUDA graphs need a GPU")
def test_with_the_default_refresh_policy_every_full_block_replays_from_the_second_epoch(
    tiny_data,
):
    """512 samples: four full blocks an epoch, refreshes due every 6 samples. The first
    full block is the warm-up, the second is captured and replayed, and from then on
    every full block is a replay."""
    torch.backends.cuda.matmul.allow_tf32 = False
    config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel", device="cuda",
                         epochs=2)  # fmt: skip
    run = TrainingRun(config, tiny_data)
    sgd = run.engine._sample_steps
    assert isinstance(sgd, TritonSampleSgd) and run.result.train_size == 512
    run.run_epoch()
    assert sgd.replays == 3
    run.run_epoch()
    assert sgd.replays == 3 + 4


@resolves_on_cpu
def test_a_triton_compile_error_falls_back_to_eager_with_one_warning(
    tiny_data, triton_on_this_device, monkeypatch
):
    def broken(*args, **kw):
        raise RuntimeError("PassManager::run failed\nlong MLIR dump")

    monkeypatch.setattr(steps, "compile_now", broken)
    config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel",
                         device=DEVICE.type, epochs=1, train_subset=50)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(config, data=tiny_data)
    (warning,) = caught
    message = str(warning.message)
    assert "compiling the Triton steps failed (PassManager::run failed)" in message
    assert "long MLIR dump" not in message and "eagerly" in message
    assert run.result.step_mode == "eager" and run.result.final.updates == 50


def test_an_older_triton_without_knobs_reads_the_variable(monkeypatch):
    """triton.knobs arrived in Triton 3.4; before it the interpreter is the variable."""
    import types

    monkeypatch.setattr(steps, "_triton", lambda: types.SimpleNamespace())
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert steps.interpreting()
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not steps.interpreting()


def test_kernel_on_cuda_with_tritons_interpreter_on_falls_back_to_eager(monkeypatch):
    """A TRITON_INTERPRET=1 left set would run the interpreter on a GPU's tensors, for
    hours an epoch, saying nothing: eager instead, with one warning that says why."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # what tests/conftest.py sets without a GPU
    assert steps.interpreting()
    mode, why = resolve_step_mode(StepMode.kernel, EngineName.tuned, "cuda", 1)
    assert mode is StepMode.eager and "\n" not in why
    assert why.startswith("--step-mode kernel: TRITON_INTERPRET=1 is set") and "unset it" in why


@resolves_on_cpu
@pytest.mark.parametrize("b", [3, 10])
def test_small_batches_in_kernel_mode_match_the_torch_engine(tiny_data, triton_on_this_device, b):
    """Updates of b samples through Triton's kernels (MOST_SAMPLES on CUDA is numba's 64):
    150 shuffled samples, the epoch's last update smaller (150 = 49 x 3 + 3 = 15 x 10:
    the blocks of 126 and 120 hold whole updates)."""
    if CUDA:
        torch.backends.cuda.matmul.allow_tf32 = False
    runs = {}
    for engine, mode in (("torch", "eager"), ("tuned", "kernel")):
        config = TrainConfig(engine=engine, step_mode=mode, device=DEVICE.type, epochs=1,
                             rule="batch", batch_size=b, train_subset=150, lr=0.05)  # fmt: skip
        runs[engine] = train(config, data=tiny_data)
    plain, fast = runs["torch"], runs["tuned"]
    assert fast.result.step_mode == "kernel"
    sgd = fast.engine._sample_steps
    assert isinstance(sgd, TritonSampleSgd) and sgd.samples_per_update == b
    wa, wb = plain.engine.weights(), fast.engine.weights()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    assert fast.result.final.updates == plain.result.final.updates == -(-150 // b)
    assert fast.result.final.train_loss == pytest.approx(plain.result.final.train_loss, rel=1e-5)
