"""The tuned engine's step modes (engines.tuned.capture) do eager's math.

Graph mode on CPU has no graph to capture: its units are called as they are, so these
tests run everything a CUDA graph replays except the capture itself (static buffers,
start positions, whole per-sample blocks deferred to their last step, the short last
block, a block cut short). Compiled mode is traced with the "aot_eager" backend, which
needs no C++ compiler. tests/test_cuda.py runs the real captures on a GPU."""

import json
import warnings

import pytest
import torch

from cli_runner import invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.modes import StepMode
from mnist_rules.engines.tuned import capture
from mnist_rules.engines.tuned import engine as tuned_engine
from mnist_rules.engines.tuned.capture import LazyUnit
from mnist_rules.training.loop import TrainingRun, train

RULE_SETTINGS = [
    {"rule": "epoch", "chunk_size": 100},  # 5 full chunks and one of 12
    {"rule": "batch", "batch_size": 50},  # 10 updates of 50, then one of 12
    {"rule": "sample"},  # 5 deferred blocks of 96, then 32 step by step
]


@pytest.fixture
def block_96(monkeypatch):
    """Per-sample blocks of 96: the 512 tiny images end in a short block."""
    monkeypatch.setattr(tuned_engine, "BLOCK", 96)


def weights(run):
    return run.engine.weights()


def trained(tiny_data, mode, epochs=2, **kw):
    config = TrainConfig(engine="tuned", device="cpu", step_mode=mode, epochs=epochs, **kw)
    return train(config, data=tiny_data)


@pytest.mark.parametrize("kw", RULE_SETTINGS)
def test_graph_mode_steps_are_eagers_exactly(tiny_data, block_96, kw, recwarn):
    eager = trained(tiny_data, StepMode.eager, **kw)
    run = TrainingRun(
        TrainConfig(engine="tuned", step_mode="eager", device="cpu", epochs=2, **kw), tiny_data
    )
    run.engine.step_mode = StepMode.graph  # on CPU the config would fall back to eager
    for _ in range(2):
        run.run_epoch()
    for name, tensor in weights(eager).items():
        assert torch.equal(weights(run)[name], tensor), name
    for a, b in zip(eager.result.epochs, run.result.epochs, strict=True):
        assert (a.train_loss, a.test_acc) == (b.train_loss, b.test_acc)
    units = run.engine._units
    if kw["rule"] == "sample":
        assert list(units) == [("block", 96)]  # the short last block ran step by step
    else:
        assert len(units) == 2  # the full-size chunk and the short one


def test_a_deferred_block_cut_short_runs_the_steps_taken(tiny_data, block_96):
    runs = {}
    for mode in (StepMode.eager, StepMode.graph):
        run = TrainingRun(
            TrainConfig(engine="tuned", step_mode="eager", device="cpu", rule="sample"), tiny_data
        )
        run.engine.step_mode = mode
        order = run.next_order()
        run.engine.start_epoch(order, run.chunks)
        batches = run.engine.batches(order, run.chunks)
        for batch, chunk in zip(batches, run.chunks[:250], strict=False):  # 2 blocks + 58
            run.engine.step(batch, chunk)
        run.engine.end_epoch()  # the loop stopped: Ctrl-C, an error
        runs[mode] = run
    assert runs[StepMode.graph].ledger.samples == 250
    eager, graph = (weights(runs[m]) for m in (StepMode.eager, StepMode.graph))
    for name in eager:
        assert torch.equal(graph[name], eager[name]), name


@pytest.mark.parametrize("kw", [RULE_SETTINGS[1], RULE_SETTINGS[2]])
def test_compiled_mode_matches_eager(tiny_data, monkeypatch, kw):
    monkeypatch.setattr(tuned_engine, "BLOCK", 16)  # a short block: a quick trace
    monkeypatch.setitem(capture.COMPILE_OPTIONS, "cpu", {"backend": "aot_eager"})
    torch._dynamo.reset()
    counters = torch._dynamo.utils.counters
    counters.clear()
    eager = trained(tiny_data, StepMode.eager, epochs=1, **kw)
    compiled = trained(tiny_data, StepMode.compiled, epochs=1, **kw)
    assert compiled.result.step_mode == "compile"
    assert counters["stats"]["unique_graphs"] >= 1  # traced, not silently eager
    # The buffers its units mutate are static (else reduce-overhead skips its CUDA graphs).
    engine = compiled.engine
    buffers = [*engine.params.tensors, *engine.params.grads, engine._logits, engine._onehot]
    assert all(hasattr(t, "_dynamo_static_input_type") for t in buffers)
    for name, tensor in weights(eager).items():
        torch.testing.assert_close(weights(compiled)[name], tensor, rtol=0, atol=1e-6)
    assert compiled.result.final.test_acc == eager.result.final.test_acc


def test_a_failed_capture_falls_back_to_eager_with_one_warning(monkeypatch):
    def cannot_capture(fn, state):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(capture, "capture_graph", cannot_capture)
    calls = []
    unit = LazyUnit(lambda: calls.append(1), StepMode.graph, torch.device("cuda"), [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unit()
        unit()
    assert calls == [1, 1]
    (warning,) = caught
    assert "CUDA graph capture failed (operation not permitted" in str(warning.message)
    assert "more detail" not in str(warning.message)


def test_every_capture_is_thread_local_so_another_threads_cuda_calls_cannot_spoil_it(
    monkeypatch,
):
    """In the default "global" mode a capture fails when any thread makes a CUDA call
    unsafe during capture, and stream mode's reader thread copies blocks while kernel
    mode captures its steps. Every capture of the package goes through one helper."""
    from pathlib import Path

    import mnist_rules

    asked = []
    monkeypatch.setattr(torch.cuda, "graph", lambda graph, **kw: asked.append(kw))
    capture.graph_capture(object())
    assert asked == [{"capture_error_mode": "thread_local"}]
    package = Path(mnist_rules.__file__).parent
    capturing = [p for p in package.rglob("*.py") if "torch.cuda.graph(" in p.read_text()]
    assert capturing == [package / "engines" / "tuned" / "capture.py"]


@pytest.mark.parametrize("command", ["train", "compare"])
def test_graph_mode_on_cpu_warns_in_one_line_and_trains_eagerly(tiny_root, tmp_path, command):
    out = tmp_path / "r.json"
    rules = ("--rule", "batch") if command == "train" else ("--rules", "batch")
    result = invoke(
        command, "--engine", "tuned", "--step-mode", "graph", *rules, "--epochs", "1",
        "--device", "cpu", "--data-dir", tiny_root, "--json", out, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "warning: --step-mode graph: CUDA graphs need a CUDA device; the tuned engine runs"
        " eagerly on cpu."
    )
    written = json.loads(out.read_text())
    assert (written if command == "train" else written["runs"][0])["step_mode"] == "eager"


@pytest.mark.parametrize("mode", ["graph", "compile", "kernel"])
def test_a_step_mode_with_the_torch_engine_is_a_usage_error(tiny_root, mode):
    result = invoke("train", "--engine", "torch", "--step-mode", mode, "--epochs", "1",
                    "--data-dir", tiny_root)  # fmt: skip
    assert result.exit_code == 2
    assert f"--step-mode {mode} applies to --engine tuned" in result.stderr
    assert "Traceback" not in result.output


def test_the_old_name_compiled_is_still_accepted_from_python():
    assert StepMode("compiled") is StepMode.compiled and StepMode.compiled.value == "compile"


def test_a_compile_error_at_the_first_call_falls_back_to_eager_with_one_warning():
    """torch.compile is lazy: its errors come at the first call, and must not escape."""
    state = torch.zeros(3)
    calls = []

    def step():
        calls.append(1)
        state.add_(1)

    class Owner:
        compile_seconds = 0.0

    def broken_compile(fn, **kw):
        def first_call():
            state.add_(100)  # a half-done call: the fallback gives the state back
            raise RuntimeError("backend='inductor' raised:\nCompilationError: details")

        return first_call

    owner = Owner()
    unit = LazyUnit(step, StepMode.compiled, torch.device("cpu"), [state], owner)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        original, torch.compile = torch.compile, broken_compile
        try:
            unit()
            unit()
        finally:
            torch.compile = original
    (warning,) = caught
    assert str(warning.message) == (
        "torch.compile failed (backend='inductor' raised:); this step runs eagerly."
    )
    assert calls == [1, 1] and torch.equal(state, torch.full((3,), 2.0))
    assert owner.compile_seconds > 0
