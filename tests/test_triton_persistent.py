"""The persistent schedule of the Triton steps (engines.tuned.triton_persistent_steps):
one launch a range of updates does the two-launch kernels' arithmetic, bit for bit; a
grid barrier that gives up leaves the parameters as they were and the steps fall back
to two launches an update with one warning; SCHEDULE_ENV chooses.

Without a GPU the kernels run in Triton's interpreter (tests/conftest.py), which runs
programs one after another: with one program (rows=512 covers layer 1's 400 units) the
barrier passes at each arrival; with several, the first program waits for the others
alone and gives up (the fallback's path). On a GPU the same tests run the compiled
kernels with every program resident, plus a timing against the two-launch kernels."""

import itertools
import warnings

import pytest
import torch

import sample_blocks
from mnist_rules.engines.tuned import triton_persistent_steps as persistent
from mnist_rules.engines.tuned import triton_sample_steps as steps
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.triton_sample_sgd import (
    SCHEDULE_ENV,
    TritonSampleSgd,
    schedule_from_env,
)
from mnist_rules.model import build_mlp
from optional_packages import TRITON_STEPS

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
ONE_PROGRAM = 512  # layer 1's units per program: all 400 in one

pytestmark = TRITON_STEPS


def block_buffers(size: int, samples: int, rows: int | None) -> steps.StepBuffers:
    """The step buffers of a block of `size` random images from build_mlp(0), P and G
    computed as the blocked scheme does."""
    p = MlpParams(build_mlp(0).to(DEVICE))
    x, onehot = sample_blocks.block_data(size, DEVICE)
    pre = torch.addmm(p.b1, x, p.w1.t()).contiguous()
    gram = (x @ x.t() + 1.0).contiguous()
    b = steps.StepBuffers.around(pre, gram, torch.zeros_like(pre), p.w2, p.b2, p.w3, p.b3,
                                 0.05, rows=rows, samples=samples)  # fmt: skip
    b.onehot.copy_(onehot)
    return b


def state(b: steps.StepBuffers) -> list[torch.Tensor]:
    return [*b.parameters, b.logits, b.signal, b.act1]


def assert_same(a: torch.Tensor, b: torch.Tensor) -> None:
    """Bit for bit in the interpreter (one program, the same helpers, the same numpy
    sums); on a GPU the two kernels lay the head's sums out on other warps (4 and 8),
    so their reductions may add in another order: float32's last bits."""
    if CUDA:
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    else:
        assert torch.equal(a, b)


@pytest.mark.parametrize(("samples", "pieces"), [(1, (0, 32)), (1, (0, 7, 32)), (5, (0, 10, 32))])
def test_persistent_block_equals_the_two_launch_kernels_bit_for_bit(samples, pieces):
    """One program (so that the interpreter's barrier passes), per-sample and updates
    of 5 with a short last one (32 = 6 x 5 + 2), the range whole or in pieces. A block
    of 32, a multiple of 16 as 128 is: the kernels compiled on a GPU are the same."""
    rows = None if CUDA else ONE_PROGRAM
    two, one = block_buffers(32, samples, rows), block_buffers(32, samples, rows)
    pb = persistent.PersistentBuffers.around(one)
    for k0, k1 in itertools.pairwise(pieces):
        steps.run_steps(two, k0, k1)
        assert persistent.run_persistent(pb, k0, k1)
    for a, b in zip(state(two), state(one), strict=True):
        assert_same(a, b)
    assert not torch.equal(one.w2, MlpParams(build_mlp(0).to(DEVICE)).w2)  # it trained
    assert (one.signal[: pieces[-1]] != 0).any()


@pytest.mark.skipif(CUDA, reason="on a GPU every program is resident and the barrier passes")
def test_a_persistent_barrier_that_gives_up_leaves_the_parameters_as_they_were():
    """Four programs in the interpreter: program 0 waits for the others, which run only
    after it, so it gives up after `spins` reads; the others see the flag and return."""
    b = block_buffers(16, 1, rows=128)
    before = [t.clone() for t in b.parameters]
    pb = persistent.PersistentBuffers.around(b, spins=3)
    assert not persistent.run_persistent(pb, 0, 16)
    assert pb.flag.item() == 1
    assert all(torch.equal(a, t) for a, t in zip(before, b.parameters, strict=True))


def test_a_persistent_launch_whose_flag_is_set_has_its_parameters_restored(monkeypatch):
    """On a GPU a program can give up at the last barrier after the others passed it and
    wrote theirs back: the host restores what it saved before the launch."""
    b = block_buffers(16, 1, rows=None)
    before = [t.clone() for t in b.parameters]
    pb = persistent.PersistentBuffers.around(b)

    def half_done(pb_, k0, k1):
        def launch():
            pb_.steps.w2.add_(1.0)  # some programs wrote back
            pb_.steps.b3.zero_()
            pb_.flag.fill_(1)  # and one gave up

        return launch

    monkeypatch.setattr(persistent, "persistent_launch", half_done)
    assert not persistent.run_persistent(pb, 0, 16)
    assert all(torch.equal(a, t) for a, t in zip(before, b.parameters, strict=True))


def two_launch_and_persistent(pieces=(5,)) -> dict:
    """A block of 16 through TritonSampleSgd in each schedule (4 programs, a barrier that
    gives up after 3 reads): each one's (params, logits, signal) and its warnings."""
    x, onehot = sample_blocks.block_data(16, DEVICE)
    runs = {}
    for schedule in ("two-launch", "persistent"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs[schedule] = sample_blocks.one_block(
                lambda p, block, s=schedule: TritonSampleSgd(
                    p, 0.05, DEVICE, block, rows=128, schedule=s, spins=3
                ),
                x, onehot, pieces=pieces, device=DEVICE,
            )  # fmt: skip
        runs[schedule + " warnings"] = [str(w.message) for w in caught]
    return runs


def assert_fell_back(runs: dict) -> str:
    """The persistent run's weights, logits and signal are the two-launch run's; its
    one warning."""
    (two, two_logits, two_signal), (got, logits, signal) = runs["two-launch"], runs["persistent"]
    assert runs["two-launch warnings"] == []
    (message,) = runs["persistent warnings"]  # one, though two calls ran
    assert "two launches an update" in message
    assert all(torch.equal(a, b) for a, b in zip(two.tensors, got.tensors, strict=True))
    assert torch.equal(two_logits, logits) and torch.equal(two_signal, signal)
    return message


@pytest.mark.skipif(CUDA, reason="on a GPU every program is resident and the barrier passes")
def test_the_persistent_steps_fall_back_to_two_launches_with_one_warning(monkeypatch):
    """A barrier that gives up (4 programs in the interpreter, told they are resident)."""
    monkeypatch.setattr(persistent, "resident_programs", lambda device: 64)
    assert "grid barrier gave up" in assert_fell_back(two_launch_and_persistent())


def test_a_persistent_launch_that_raises_falls_back_with_one_warning(monkeypatch):
    """A compile or launch error in the persistent kernel costs the schedule, not the run."""

    def broken(pb, k0, k1):
        def launch():
            pb.steps.w2.add_(1.0)
            raise RuntimeError("out of resources: shared memory\nlong dump")

        return launch

    monkeypatch.setattr(persistent, "persistent_launch", broken)
    monkeypatch.setattr(persistent, "resident_programs", lambda device: 64)
    message = assert_fell_back(two_launch_and_persistent())
    assert "persistent launch failed (out of resources: shared memory)" in message


def test_a_persistent_kernel_that_does_not_compile_leaves_two_launches_said_once(monkeypatch):
    from mnist_rules.engines.tuned import kernel_backends

    def broken(*args, **kw):
        raise RuntimeError("PassManager::run failed\nlong MLIR dump")

    monkeypatch.setattr(persistent, "compile_now", broken)
    monkeypatch.setattr(persistent, "unusable", None)
    monkeypatch.setenv(SCHEDULE_ENV, "persistent")
    with pytest.warns(RuntimeWarning, match="compiling the persistent Triton kernel failed"):
        kernel_backends._compile_persistent(DEVICE, 1, {})
    assert persistent.unusable == "PassManager::run failed"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: not again
        sgd = TritonSampleSgd(MlpParams(build_mlp(0).to(DEVICE)), 0.05, DEVICE, 16)
    assert sgd.schedule == "two-launch"


def test_the_schedule_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv(SCHEDULE_ENV, raising=False)
    assert schedule_from_env() == "two-launch"
    monkeypatch.setenv(SCHEDULE_ENV, "persistent")
    assert schedule_from_env() == "persistent"
    monkeypatch.setenv(SCHEDULE_ENV, "fastest")
    with pytest.warns(RuntimeWarning, match="'fastest' is not one of two-launch, persistent"):
        assert schedule_from_env() == "two-launch"


def test_persistent_steps_need_every_program_resident(monkeypatch):
    """More programs than SMs (or than the interpreter's one): one warning, two launches
    an update."""
    monkeypatch.setattr(persistent, "resident_programs", lambda device: 4)
    p = MlpParams(build_mlp(0).to(DEVICE))
    with pytest.warns(RuntimeWarning, match="13 programs, 4 SMs"):
        sgd = TritonSampleSgd(p, 0.05, DEVICE, 16, schedule="persistent")
    assert sgd.schedule == "two-launch"


@pytest.mark.skipif(not CUDA, reason="needs a GPU")  # gpu_check's Triton section runs it
def test_persistent_timing_against_the_two_launch_kernels(record_property):
    """A block of 128 per-sample updates, 13 programs: the two schedules agree, and
    their times (CUDA events, after a warm-up, best of 20) are recorded."""
    torch.backends.cuda.matmul.allow_tf32 = False
    two, one = block_buffers(128, 1, None), block_buffers(128, 1, None)
    pb = persistent.PersistentBuffers.around(one)
    steps.run_steps(two, 0, 128)
    assert persistent.run_persistent(pb, 0, 128)
    for a, b in zip(state(two), state(one), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    timings = {}
    for name, go in (("two-launch", lambda: steps.run_steps(two, 0, 128)),
                     ("persistent", lambda: persistent.run_persistent(pb, 0, 128))):  # fmt: skip
        best = float("inf")
        for _ in range(20):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            go()
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        timings[name] = best / 128
        record_property(f"{name}_us_per_update", round(best / 128 * 1e6, 2))
    print(f"per update: two-launch {timings['two-launch'] * 1e6:.2f} µs (launch by launch),"
          f" persistent {timings['persistent'] * 1e6:.2f} µs")  # fmt: skip
    assert all(t > 0 for t in timings.values())


def test_kernel_mode_with_the_persistent_schedule_trains_as_the_torch_engine(
    tiny_data, monkeypatch
):
    """`--step-mode kernel` end to end with MNIST_RULES_TRITON_SCHEDULE=persistent: 150
    shuffled samples (a block of 128 and one of 22), every call one persistent launch,
    none given up, the weights within 1e-5 of the torch engine's. Without a GPU: one
    program (the interpreter's barrier passes), the engine's kernel steps pointed at
    Triton's."""
    from mnist_rules.config.train_config import TrainConfig
    from mnist_rules.engines.tuned.engine import TunedEngine
    from mnist_rules.training.loop import train

    monkeypatch.setenv(SCHEDULE_ENV, "persistent")
    monkeypatch.setattr(persistent, "unusable", None)
    if CUDA:
        torch.backends.cuda.matmul.allow_tf32 = False
    else:
        monkeypatch.setitem(TunedEngine.kernel_steps, "cpu", "triton")
        monkeypatch.setattr(steps, "ROWS", ONE_PROGRAM)
    launched = []
    run_persistent = persistent.run_persistent

    def recording(pb, k0, k1):
        launched.append((k0, k1))
        return run_persistent(pb, k0, k1)

    monkeypatch.setattr(persistent, "run_persistent", recording)
    runs = {}
    for engine, mode in (("torch", "eager"), ("tuned", "kernel")):
        config = TrainConfig(engine=engine, step_mode=mode, device=DEVICE.type, epochs=1,
                             rule="sample", train_subset=150, shuffle=True)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no fallback
            runs[engine] = train(config, data=tiny_data)
    sgd = runs["tuned"].engine._sample_steps
    assert runs["tuned"].result.step_mode == "kernel" and sgd.schedule == "persistent"
    assert (0, 128) in launched and (0, 22) in launched
    wa, wb = runs["torch"].engine.weights(), runs["tuned"].engine.weights()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    assert runs["tuned"].result.final.train_loss == pytest.approx(
        runs["torch"].result.final.train_loss, rel=1e-5
    )
