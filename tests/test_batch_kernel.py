"""The kernel step mode for small batches (engines.tuned.numba_batch_steps): updates of
2 to MAX_SAMPLES samples as one compiled loop per block do the torch engine's math,
keep every feature of the loop (stops at a block's end, checkpoints, divergence,
profile), and are what `auto` picks on the CPU."""

import json

import pytest
import torch

from checkpoint_runs import KeepEach, assert_same_run
from cli_runner import invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.tuned.kernel_backends import FASTER_UP_TO
from mnist_rules.engines.tuned.numba_batch_steps import MAX_SAMPLES
from mnist_rules.engines.tuned.numba_sample_sgd import NumbaSampleSgd
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import needs_numba
from sample_blocks import block_data, record_step_calls

pytestmark = needs_numba
CPU = torch.device("cpu")
# 509 images: every size below ends its epoch with a smaller update (509 = 254 x 2 + 1,
# 169 x 3 + 2, 50 x 10 + 9, 7 x 64 + 61), and 64's blocks are two updates of 64.
PARTIAL = 509


def batch_config(b: int, engine="tuned", mode="kernel", **kw) -> TrainConfig:
    kw = {"epochs": 1, "train_subset": PARTIAL, "lr": 0.05, **kw}
    return TrainConfig(
        rule="batch", batch_size=b, engine=engine, step_mode=mode, device="cpu", **kw
    )


@pytest.mark.parametrize("b", [2, 3, 10, 64])
def test_small_batches_in_kernel_mode_match_the_torch_engine(tiny_data, b):
    """Same seed, same shuffled order: the weights after an epoch within 1e-5."""
    plain = train(batch_config(b, engine="torch", mode="eager"), data=tiny_data)
    kernel = train(batch_config(b), data=tiny_data)
    assert kernel.result.step_mode == "kernel" and kernel.result.shuffle
    wa, wb = plain.engine.weights(), kernel.engine.weights()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5
    start = TrainingRun(batch_config(b), tiny_data).engine.weights()
    assert not torch.equal(wb["fc2.weight"], start["fc2.weight"])  # it trained
    a, k = plain.result.final, kernel.result.final
    assert k.updates == a.updates == -(-PARTIAL // b)
    assert k.train_loss == pytest.approx(a.train_loss, rel=1e-5)


def test_the_update_losses_match_the_torch_engines(tiny_data):
    """--update-losses: each update's mean loss, from the logits the loop wrote."""
    runs = [train(batch_config(3, engine=e, mode=m, record_update_losses=True), tiny_data)
            for e, m in (("torch", "eager"), ("tuned", "kernel"))]  # fmt: skip
    plain, kernel = (r.update_losses for r in runs)
    assert len(kernel) == len(plain) == 1 and len(kernel[0]) == -(-PARTIAL // 3)
    torch.testing.assert_close(kernel[0], plain[0], rtol=1e-5, atol=1e-6)


def test_a_block_of_updates_run_in_pieces_is_bitwise_one_call():
    x, onehot = block_data(120)

    def one_block(pieces):
        from mnist_rules.engines.tuned.mlp_steps import MlpParams
        from mnist_rules.model import build_mlp

        p = MlpParams(build_mlp(0))
        sgd = NumbaSampleSgd(p, 0.05, CPU, block=120, samples_per_update=10)
        logits = torch.zeros(120, 10)
        sgd.begin()
        sgd.start_block(x, onehot, logits)
        for k in range(0, 120, 10):
            sgd.take(10)
            if k + 10 in pieces:
                sgd.run_pending()
        sgd.end()
        return p, logits

    (whole, whole_logits), (cut, logits) = one_block(()), one_block((10, 40, 90))
    assert all(torch.equal(a, b) for a, b in zip(whole.tensors, cut.tensors, strict=True))
    assert torch.equal(whole_logits, logits)


def test_a_block_holds_whole_updates_and_runs_whole(tiny_data, tmp_path, monkeypatch):
    """Updates of 10: blocks of 120 (twelve updates); the loop's refreshes, checkpoints
    and the epoch's end wait for a block's end."""
    from mnist_rules.training.checkpoint import Checkpointer

    calls = record_step_calls(monkeypatch, NumbaSampleSgd)
    run = train(batch_config(10, train_subset=300, epochs=2), tiny_data,
                checkpoint=Checkpointer(tmp_path / "c.pt", every=7))  # fmt: skip
    assert run.result.step_mode == "kernel"
    assert calls == [(0, 120), (0, 120), (0, 60)] * 2


def test_stopping_is_at_a_blocks_end_and_resumes_bitwise(tiny_data, tmp_path):
    """Periodic checkpoints every 5 updates of 10 fall at the first block end at or
    after each (blocks of 120), and any of them resumes to the uninterrupted run."""
    config = lambda: batch_config(10, epochs=2, train_subset=None, shuffle=True)  # noqa: E731
    saver = KeepEach(tmp_path / "c.pt", every=15)
    whole = train(config(), tiny_data, checkpoint=saver)
    positions = [s["position"]["samples"] for s in saver.kept if s["position"]["epochs"] == 1]
    assert [p for p in positions if p] == [240, 360, 480]
    mid = next(s for s in saver.kept if s["position"]["epochs"] == 1 and s["position"]["samples"])
    assert_same_run(whole, train(config(), tiny_data, resume=mid))


def test_the_first_nonfinite_update_is_exact(tiny_data):
    run = TrainingRun(batch_config(10, train_subset=None), tiny_data)
    order = run.next_order()
    run.engine.start_epoch(order, run.chunks)
    for _, batch, chunk in zip(range(20), run.engine.batches(order, run.chunks), run.chunks,
                               strict=False):  # fmt: skip
        run.engine.step(batch, chunk)
    run.engine.flush_steps()
    run.engine._logits[137, 0] = float("nan")  # the 138th sample: in update 13 (from 0)
    assert run.ledger.first_nonfinite_update() == 13


def test_auto_picks_the_kernel_up_to_where_it_is_measured_faster(tiny_data):
    most = FASTER_UP_TO["numba"]
    modes = {b: TrainingRun(batch_config(b, mode="auto"), tiny_data).result.step_mode
             for b in (2, most, most + 1, MAX_SAMPLES)}  # fmt: skip
    assert modes == {2: "kernel", most: "kernel", most + 1: "eager", MAX_SAMPLES: "eager"}
    asked = TrainingRun(batch_config(MAX_SAMPLES), tiny_data).result.step_mode
    assert asked == "kernel"  # --step-mode kernel: up to the most its loop takes


def test_a_kernel_asked_for_a_larger_batch_runs_eagerly_without_a_warning(tiny_data, recwarn):
    run = train(batch_config(MAX_SAMPLES + 1), tiny_data)
    assert run.result.step_mode == "eager" and not recwarn.list


def test_profile_splits_small_batches_into_block_gemms_and_steps(tiny_root, tmp_path):
    out = tmp_path / "p.json"
    result = invoke("profile", "--rule", "batch", "--batch-size", "5", "--engine", "tuned",
                    "--step-mode", "kernel", "--steps", "60", "--warmup", "10",
                    "--device", "cpu", "--data-dir", tiny_root, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())
    assert r["step_mode"] == "kernel" and r["block_gemms_us"] > 0 and r["steps_us"] > 0
    assert r["compute_us"] == pytest.approx(r["block_gemms_us"] + r["steps_us"])


def test_a_sweep_runs_every_small_size_compiled(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = invoke("sweep", "--sizes", "1,2,5,32,64", "--epochs", "1", "--device", "cpu",
                    "--data-dir", tiny_root, "--json", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert [r["step_mode"] for r in runs] == ["kernel"] * 4 + ["eager"]


def test_an_update_cut_into_chunks_runs_and_says_eager(tiny_data):
    """--step-mode kernel with updates larger than a chunk: the eager steps accumulate
    them, and the results say eager, not kernel."""
    run = train(batch_config(10, chunk_size=4), tiny_data)
    assert run.result.step_mode == "eager"
