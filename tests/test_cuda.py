"""The CUDA paths on a real GPU: the tuned engine's eager, graph and compiled modes do
the torch engine's math there too. Skipped without a CUDA GPU (CI has none); run on
a GPU machine with `pytest tests/test_cuda.py`."""

import warnings

import pytest
import torch

from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.modes import StepMode
from mnist_rules.training.loop import train

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

SETTINGS = [
    {"rule": "epoch", "chunk_size": 100},
    {"rule": "batch", "batch_size": 50},
    {"rule": "sample"},
]


def cuda_run(tiny_data, engine, mode=StepMode.eager, **kw):
    config = TrainConfig(engine=engine, device="cuda", step_mode=mode, epochs=2, **kw)
    return train(config, data=tiny_data)


def max_diff(a, b):
    wa, wb = a.engine.weights(), b.engine.weights()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


# torch.compile's cases: Dynamo and Inductor over a block of 128 steps take minutes from
# a cold cache; bench/gpu_check.py leaves them to its benchmark section (-m "not
# torch_compile").
COMPILED = pytest.param(StepMode.compiled, marks=pytest.mark.torch_compile, id="compile")
EAGER, GRAPH = (pytest.param(mode, id=mode.value) for mode in (StepMode.eager, StepMode.graph))


@pytest.mark.parametrize("kw", SETTINGS, ids=[s["rule"] for s in SETTINGS])
@pytest.mark.parametrize("mode", [EAGER, GRAPH, COMPILED])
def test_tuned_modes_match_the_torch_engine_on_cuda(tiny_data, kw, mode):
    # TF32 would change the GEMMs' arithmetic; both engines run full float32.
    torch.backends.cuda.matmul.allow_tf32 = False
    plain = cuda_run(tiny_data, "torch", **kw)
    tuned = cuda_run(tiny_data, "tuned", mode, **kw)
    assert tuned.result.step_mode == mode.value and tuned.result.device == "cuda"
    assert max_diff(plain, tuned) < 1e-5
    for a, b in zip(plain.result.epochs, tuned.result.epochs, strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)


@pytest.mark.parametrize(("mode", "runs"), [("auto", "eager"), ("kernel", "kernel")])
def test_auto_runs_eagerly_and_kernel_runs_triton_on_cuda(tiny_data, mode, runs):
    """No CUDA mode is measured faster than eager yet, so auto is eager; kernel runs
    Triton's fused steps (tests/test_triton_kernel.py checks their math)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = cuda_run(tiny_data, "tuned", mode, rule="sample")
    assert run.result.step_mode == runs
    assert [str(w.message) for w in caught] == []


def test_graph_replay_leaves_no_trace_of_the_capture_warm_up(tiny_data):
    """The capture's warm-up runs a real block; its state is restored before replay."""
    eager = cuda_run(tiny_data, "tuned", StepMode.eager, rule="sample")
    graph = cuda_run(tiny_data, "tuned", StepMode.graph, rule="sample")
    assert max_diff(eager, graph) < 1e-6


@pytest.mark.parametrize(("engine", "copies_per_step"), [("torch", 2), ("tuned", 1)])
def test_per_step_transfer_shows_a_copy_per_step_and_resident_none(
    tiny_data, engine, copies_per_step
):
    """The torch engine copies images and labels each step; the tuned engine only the
    images (its labels live on the device)."""
    from mnist_rules.report.profiling import profile
    from mnist_rules.training.loop import TrainingRun

    for transfer, pinned in (("per-step", False), ("per-step", True), ("resident", False)):
        config = TrainConfig(
            rule="batch", engine=engine, device="cuda", transfer=transfer, pinned=pinned
        )
        result = profile(TrainingRun(config, tiny_data), steps=20, warmup=2)
        assert result.transfer_mode == transfer and result.pinned == pinned
        if transfer == "per-step":
            assert result.transfer_count == copies_per_step * 20
            assert result.transfer_source == ("pinned" if pinned else "pageable")
            assert result.transfer_us > 0 and result.transfer_bytes > 0
        else:
            assert result.transfer_count == 0 and result.transfer_bytes == 0
        assert result.compute_us > 0


def test_compare_transfers_prints_the_four_paths(tiny_root, tmp_path):
    import json

    from cli_runner import invoke

    out = tmp_path / "c.json"
    result = invoke(
        "profile", "--compare-transfers", "--rule", "sample", "--steps", "50",
        "--device", "cuda", "--data-dir", tiny_root, "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert [(r["transfer_mode"], r["pinned"]) for r in runs] == [
        ("per-step", False), ("per-step", True), ("resident", False), ("resident", True),
    ]  # fmt: skip


@pytest.mark.parametrize("engine", ["torch", "tuned"])
@pytest.mark.parametrize("rule", ["sample", "epoch"])
@pytest.mark.parametrize("buffers", [2, 3])
def test_stream_mode_on_cuda_makes_the_resident_updates(tiny_root, engine, rule, buffers):
    """Blocks copied on a side stream into a ring of device buffers, ordered by events:
    with blocks of 100 (five and a tail in 512 images), every slot is refilled while
    earlier ones are still in use, so a missing wait would show in the weights."""
    from mnist_rules.data.mnist import DatasetName, load

    torch.backends.cuda.matmul.allow_tf32 = False

    def config(mode):
        return TrainConfig(rule=rule, engine=engine, device="cuda", epochs=2, data_mode=mode,
                           stream_block=100, stream_buffers=buffers)  # fmt: skip

    resident = train(config("resident"), load(DatasetName.mnist, tiny_root))
    streamed = train(config("stream"), load(DatasetName.mnist, tiny_root, stream=True))
    assert streamed.result.data_mode == "stream"
    assert max_diff(resident, streamed) < 1e-6  # the same inputs in the same order
    assert streamed.engine.stream.copied_bytes == 2 * 512 * 784  # each block once an epoch


def test_kernel_mode_captures_and_replays_its_blocks_while_the_stream_reader_copies(tiny_root):
    """Stream mode's reader thread copies blocks on its side stream while the kernel
    mode's steps are captured: in the default "global" capture mode its CUDA calls
    would spoil the capture (engines.tuned.capture.graph_capture makes it "thread_local").
    The blocks are captured and replayed, and the weights are resident mode's."""
    from mnist_rules.data.mnist import DatasetName, load

    torch.backends.cuda.matmul.allow_tf32 = False
    runs = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for mode in ("resident", "stream"):
            data = load(DatasetName.mnist, tiny_root, stream=mode == "stream")
            config = TrainConfig(
                rule="sample", engine="tuned", step_mode="kernel", device="cuda",
                epochs=2, data_mode=mode, stream_block=100,
            )  # fmt: skip
            runs[mode] = train(config, data)
    assert [str(w.message) for w in caught] == []
    streamed = runs["stream"]
    assert streamed.result.step_mode == "kernel" and streamed.result.data_mode == "stream"
    assert streamed.engine._sample_steps.replays == 3 + 4  # 4 full blocks an epoch, from the 2nd
    assert max_diff(runs["resident"], streamed) < 1e-6
