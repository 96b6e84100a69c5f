"""The kernel step mode (engines.tuned: numba_sample_sgd, numba_sample_steps): per-sample
SGD as one compiled loop per block does the eager blocked step's math and the torch
engine's, keeps every feature of the loop, and is what `auto` picks on the CPU; a mode
that cannot run falls back to eager with one warning line."""

import json
import warnings

import numpy as np
import pytest
import torch

import sample_blocks
from cli_runner import invoke
from mnist_rules.config.resolve import resolve_step_mode
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.engines.tuned import numba_sample_steps, triton_sample_steps
from mnist_rules.engines.tuned.blocked_sample_sgd import BlockedSampleSgd
from mnist_rules.engines.tuned.engine import TunedEngine
from mnist_rules.engines.tuned.kernel_backends import FASTER_UP_TO
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.numba_batch_steps import MAX_SAMPLES
from mnist_rules.engines.tuned.numba_sample_sgd import NumbaSampleSgd
from mnist_rules.model import build_mlp
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import needs_numba

pytestmark = needs_numba  # a runtime dependency; absent only on a bare GPU machine
CPU = torch.device("cpu")


def one_block(sgd_class, x, onehot, pieces):
    """A block of per-sample steps of `sgd_class` (tests/sample_blocks.py)."""
    return sample_blocks.one_block(lambda p, k: sgd_class(p, 0.05, CPU, block=k), x, onehot, pieces)


@pytest.fixture
def block_data():
    return sample_blocks.block_data(128)


def test_one_block_matches_the_eager_blocked_step(block_data):
    eager, eager_logits, eager_signal = one_block(BlockedSampleSgd, *block_data, ())
    kernel, logits, signal = one_block(NumbaSampleSgd, *block_data, ())
    for a, b in zip(eager.tensors, kernel.tensors, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits, eager_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(signal, eager_signal, rtol=0, atol=1e-6)
    assert (signal == 0).any() and (signal != 0).any()  # the ReLU masks did something
    assert not torch.equal(kernel.w2, MlpParams(build_mlp(0)).w2)  # it moved


def test_a_block_run_in_pieces_is_bitwise_one_call(block_data):
    whole, whole_logits, _ = one_block(NumbaSampleSgd, *block_data, ())
    pieces, logits, _ = one_block(NumbaSampleSgd, *block_data, (1, 37, 100))
    for a, b in zip(whole.tensors, pieces.tensors, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(whole_logits, logits)


def test_the_kernel_is_float32_and_writes_in_place():
    """No float64 creeps in (a float64 lr would make the arithmetic float64), and the
    parameters are updated through views, not copies."""
    p = MlpParams(build_mlp(0))
    sgd = NumbaSampleSgd(p, 0.05, CPU, block=4)
    assert sgd._lr32.dtype == np.float32
    assert all(a.dtype == np.float32 for a in (*sgd._arrays, *sgd._params))
    views = zip(sgd._params, p.tensors[2:], strict=True)
    assert all(np.shares_memory(a, t.numpy()) for a, t in views)


def both(tiny_data, **kw):
    runs = {}
    for engine, mode in (("torch", "eager"), ("tuned", "kernel")):
        config = TrainConfig(engine=engine, step_mode=mode, device="cpu", epochs=3,
                             rule="sample", record_update_losses=True, **kw)  # fmt: skip
        runs[engine] = train(config, data=tiny_data)
    return runs["torch"], runs["tuned"]


@pytest.mark.parametrize(
    "kw",
    [{}, {"train_subset": 200}, {"train_subset": 200, "shuffle": True}],
    ids=["in-order", "in-order-partial-block", "shuffled-partial-block"],
)
def test_kernel_mode_matches_the_torch_engine_after_three_epochs(tiny_data, kw):
    plain, kernel = both(tiny_data, **kw)
    assert kernel.result.step_mode == "kernel"
    wa, wb = plain.engine.weights(), kernel.engine.weights()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    for a, b in zip(plain.result.epochs, kernel.result.epochs, strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.updates == a.updates
        # Weights 1e-5 apart (other code paths, other rounding) may flip a near tie:
        # at most one of the 200 test images.
        assert abs(b.test_acc - a.test_acc) <= 0.5
    for a, b in zip(plain.update_losses, kernel.update_losses, strict=True):  # --update-losses
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_every_full_block_of_a_kernel_epoch_runs_whole(tiny_data, tmp_path, monkeypatch):
    """The loop's refreshes (due every 3 samples of 300), its checkpoints (every 50
    updates) and the epoch's end wait for a block's end: each epoch's two full blocks
    run as one call each, then its short last block."""
    from mnist_rules.training.checkpoint import Checkpointer

    calls = sample_blocks.record_step_calls(monkeypatch, NumbaSampleSgd)
    config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel", device="cpu",
                         epochs=2, train_subset=300)  # fmt: skip
    run = train(config, data=tiny_data, checkpoint=Checkpointer(tmp_path / "c.pt", every=50))
    assert run.result.step_mode == "kernel"
    assert calls == [(0, 128), (0, 128), (0, 44)] * 2


def test_stream_mode_in_kernel_mode_trains_as_resident(tiny_root):
    from mnist_rules.data.mnist import DatasetName, load

    runs = {}
    for mode in ("resident", "stream"):
        data = load(DatasetName.mnist, tiny_root, stream=mode == "stream")
        config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel", device="cpu",
                             epochs=2, data_mode=mode, stream_block=100)  # fmt: skip
        runs[mode] = train(config, data=data)
    assert runs["stream"].result.step_mode == "kernel"
    a, b = (runs[m].engine.weights() for m in ("resident", "stream"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("requested", "engine", "device", "samples", "runs"),
    [
        ("auto", "tuned", "cpu", 1, "kernel"),
        ("auto", "tuned", "cpu", 2, "kernel"),  # small batches: compiled too
        ("auto", "tuned", "cpu", FASTER_UP_TO["numba"], "kernel"),
        ("auto", "tuned", "cpu", FASTER_UP_TO["numba"] + 1, "eager"),  # eager measured faster
        ("kernel", "tuned", "cpu", MAX_SAMPLES, "kernel"),  # asked for: up to what it takes
        ("kernel", "tuned", "cpu", MAX_SAMPLES + 1, "eager"),
        ("auto", "tuned", "cpu", 0, "eager"),  # torchrun: an all-reduce per update
        ("auto", "tuned", "cuda", 1, "eager"),  # no CUDA mode measured faster yet
        ("auto", "torch", "cpu", 1, "eager"),
        ("kernel", "tuned", "cpu", 10, "kernel"),
        ("kernel", "tuned", "cpu", 100, "eager"),  # batch/epoch: GEMM steps, eager's
        ("kernel", "tuned", "cuda", MAX_SAMPLES + 1, "eager"),  # GEMM steps: no warning
        ("auto", "tuned", "cuda", 2, "eager"),
        ("compile", "tuned", "cpu", 1, "compile"),
        ("graph", "tuned", "cuda", 1, "graph"),
    ],
)
def test_resolve_step_mode(requested, engine, device, samples, runs):
    mode, why = resolve_step_mode(StepMode(requested), EngineName(engine), device, samples)
    assert (mode, why) == (StepMode(runs), None)


def test_the_triton_steps_take_as_many_samples_an_update_as_numbas():
    """The whole small-batch axis compiled on both devices (auto stays eager on CUDA
    until a GPU run measures the kernels faster)."""
    assert TunedEngine.kernel_samples("cuda") == TunedEngine.kernel_samples("cpu") == MAX_SAMPLES
    assert TunedEngine.kernel_samples("cuda", faster=True) == 0


@pytest.mark.parametrize(
    ("requested", "device", "phrase"),
    [
        ("graph", "cpu", "--step-mode graph: CUDA graphs need a CUDA device"),
        ("kernel", "mps", "--step-mode kernel: the compiled steps run on the CPU"),
    ],
)
def test_a_mode_that_cannot_run_here_falls_back_to_eager_saying_why(requested, device, phrase):
    mode, why = resolve_step_mode(StepMode(requested), EngineName.tuned, device, 1)
    assert mode is StepMode.eager and why.startswith(phrase) and "\n" not in why


@pytest.mark.parametrize(
    ("missing", "runs", "warning"),
    [
        (None, "kernel", None),
        ("triton is not installed (x)", "eager",
         "--step-mode kernel: triton is not installed (x); the tuned engine runs eagerly on cuda."),
    ],
)  # fmt: skip
def test_kernel_on_cuda_runs_tritons_steps_if_triton_imports(monkeypatch, missing, runs, warning):
    """The kernel mode on CUDA is Triton's (engines.tuned.triton_sample_sgd); auto stays eager."""
    monkeypatch.setattr(triton_sample_steps, "available", lambda: missing)
    monkeypatch.setattr(triton_sample_steps, "interpreting", lambda: False)
    mode, why = resolve_step_mode(StepMode.kernel, EngineName.tuned, "cuda", 1)
    assert (mode, why) == (StepMode(runs), warning)
    auto = resolve_step_mode(StepMode.auto, EngineName.tuned, "cuda", 1)
    assert auto == (StepMode.eager, None)


def test_eager_units_count_no_compile_time(tiny_data):
    """Only a capture or a compilation is compile time: an eager unit's first call is a step."""
    config = TrainConfig(rule="batch", engine="tuned", step_mode="eager", device="cpu", epochs=1)
    run = train(config, data=tiny_data)
    assert run.result.compile_seconds == 0.0 and run.engine._units  # the units ran


def test_numba_missing_falls_back_to_eager_with_one_warning(tiny_data, monkeypatch):
    monkeypatch.setattr(numba_sample_steps, "available", lambda: "numba is not installed (x)")
    config = TrainConfig(rule="sample", engine="tuned", device="cpu", epochs=1)  # auto
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(config, data=tiny_data)
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith("--step-mode auto: numba is not installed") and "eagerly" in message
    assert run.result.step_mode == "eager"


def test_a_kernel_that_fails_to_compile_falls_back_to_eager_with_one_warning(
    tiny_data, monkeypatch
):
    def broken():
        raise RuntimeError("Failed in nopython mode pipeline\nlong numba report")

    monkeypatch.setattr(numba_sample_steps, "compile_now", broken)
    config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel", device="cpu", epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(config, data=tiny_data)
    (warning,) = caught
    message = str(warning.message)
    assert "compiling numba's loop failed (Failed in nopython mode pipeline)" in message
    assert "long numba report" not in message
    assert run.result.step_mode == "eager" and run.result.final.updates == 512


def test_compile_seconds_are_recorded_and_not_counted_as_training(tiny_data, monkeypatch):
    monkeypatch.setattr(numba_sample_steps, "compile_now", lambda: 5.0)  # a slow compile
    config = TrainConfig(rule="sample", engine="tuned", step_mode="kernel", device="cpu", epochs=1)
    run = TrainingRun(config, tiny_data)
    assert run.result.compile_seconds == 5.0  # compiled before training starts
    run.run_epoch()
    assert run.result.final.train_seconds < 5.0


def test_train_records_the_mode_that_ran_and_says_so_first(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    result = invoke("train", "--rule", "sample", "--engine", "tuned", "--epochs", "1",
                    "--device", "cpu", "--data-dir", tiny_root, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["step_mode"] == "kernel" and data["compile_seconds"] >= 0
    assert data["threads"] == torch.get_num_threads()  # no torch op per step: all cores
    first = result.stdout.splitlines()[0]
    assert "tuned engine (kernel steps, compiled in" in first


def test_profile_splits_the_kernel_into_block_gemms_and_steps(tiny_root, tmp_path):
    out = tmp_path / "p.json"
    result = invoke("profile", "--rule", "sample", "--engine", "tuned", "--step-mode", "kernel",
                    "--steps", "300", "--warmup", "50", "--device", "cpu",
                    "--data-dir", tiny_root, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())
    assert r["step_mode"] == "kernel" and r["block_gemms_us"] > 0 and r["steps_us"] > 0
    assert r["compute_us"] == pytest.approx(r["block_gemms_us"] + r["steps_us"])
    parts = r["data_us"] + r["compute_us"] + r["overhead_us"]
    assert parts == pytest.approx(r["per_step_us"], rel=1e-6)
    assert "block GEMMs" in result.stdout and "the compiled loop" in result.stdout


def test_kernel_mode_with_the_torch_engine_is_a_usage_error(tiny_root):
    result = invoke("train", "--engine", "torch", "--step-mode", "kernel", "--epochs", "1",
                    "--data-dir", tiny_root)  # fmt: skip
    assert result.exit_code == 2
    assert "--step-mode kernel applies to --engine tuned" in result.stderr
    assert "Traceback" not in result.output


def test_resuming_in_another_step_mode_warns_that_it_is_not_bitwise(tiny_data, tmp_path):
    from mnist_rules.training import checkpoint as ckpt
    from mnist_rules.training.checkpoint import Checkpointer

    config = lambda mode: TrainConfig(rule="sample", engine="tuned", step_mode=mode,  # noqa: E731
                                      device="cpu", epochs=2)  # fmt: skip
    path = tmp_path / "c.pt"
    eager = config("eager")
    eager.epochs = 1
    train(eager, tiny_data, checkpoint=Checkpointer(path))
    state = ckpt.read(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config("eager"), tiny_data, resume=state)
    assert caught == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = train(config("kernel"), tiny_data, resume=state)
    (warning,) = caught
    assert "steps ran in eager mode, this run's in kernel mode" in str(warning.message)
    assert "--step-mode eager" in str(warning.message)
    assert [e.epoch for e in resumed.result.epochs] == [1, 2]
