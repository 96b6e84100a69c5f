"""The tuned engine does the torch engine's math: same seed and order, same weights
(within float tolerance), losses and accuracy; checked micrograd-style against the
plain engine (autograd + torch.optim.SGD) on the tiny generated set."""

import json

import pytest
import torch

from cli_runner import invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.tuned.blocked_sample_sgd import BlockedSampleSgd
from mnist_rules.engines.tuned.mlp_steps import MlpParams, chunk_step
from mnist_rules.model import build_mlp
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import needs_numba


def max_weight_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


def both(tiny_data, **kw):
    runs = {}
    for engine in ("torch", "tuned"):
        config = TrainConfig(engine=engine, device="cpu", record_update_losses=True, **kw)
        runs[engine] = train(config, data=tiny_data)
    return runs["torch"], runs["tuned"]


@pytest.mark.parametrize(
    "kw",
    [
        {"rule": "epoch", "chunk_size": 64},  # 8 chunks accumulate into one update
        {"rule": "batch", "batch_size": 50},  # fused: each update is one chunk
        {"rule": "batch", "batch_size": 150, "chunk_size": 64},  # updates of 3 chunks
        {"rule": "sample", "step_mode": "eager"},  # blocked first layer: 4 blocks
        {"rule": "sample", "train_subset": 200, "shuffle": True, "step_mode": "eager"},
    ],
    ids=["epoch-chunked", "batch-fused", "batch-chunked", "sample", "sample-shuffled-partial"],
)
def test_tuned_engine_matches_the_torch_engine_after_three_epochs(tiny_data, kw):
    plain, tuned = both(tiny_data, epochs=3, **kw)
    assert max_weight_diff(plain.engine.weights(), tuned.engine.weights()) < 1e-5
    for a, b in zip(plain.result.epochs, tuned.result.epochs, strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.updates == a.updates
        # Weights 1e-5 apart (other code paths, other rounding) may flip a near tie:
        # at most one of the 200 test images.
        assert abs(b.test_acc - a.test_acc) <= 0.5
    for a, b in zip(plain.update_losses, tuned.update_losses, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    assert max_weight_diff(tuned.engine.weights(), build_mlp(0).state_dict()) > 1e-3  # moved


def per_sample_both_ways(seed, samples, steps, block):
    """`steps` per-sample updates from build_mlp(seed) on random data, one at a time
    (chunk_step) and blocked: (step-by-step params, blocked params, their logits)."""
    torch.manual_seed(0)
    x, labels = torch.rand(samples, 784), torch.randint(0, 10, (samples,))
    onehot = torch.nn.functional.one_hot(labels, 10).float()
    step_by_step, blocked = MlpParams(build_mlp(seed)), MlpParams(build_mlp(seed))
    logits_a, logits_b = torch.zeros(samples, 10), torch.zeros(samples, 10)
    for i in range(steps):
        chunk_step(
            step_by_step, x[i : i + 1], onehot[i : i + 1], logits_a[i : i + 1], 1, 0.05, True
        )
    sgd = BlockedSampleSgd(blocked, 0.05, torch.device("cpu"), block=block, block_threads=1)
    sgd.begin()
    for i in range(steps):
        if i % block == 0:
            sgd.next_block(x[i : i + block])
        sgd.step(onehot[i], logits_b[i])
    sgd.end()
    return step_by_step, blocked, logits_a, logits_b


def test_blocked_per_sample_sgd_equals_one_update_at_a_time():
    step_by_step, blocked, logits_a, logits_b = per_sample_both_ways(1, 300, 300, 128)
    for a, b in zip(step_by_step.tensors, blocked.tensors, strict=True):  # blocks 128, 128, 44
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits_b, logits_a, rtol=0, atol=1e-5)


def test_a_block_cut_short_leaves_the_model_after_every_step_taken():
    """An epoch that stops mid-block (Ctrl-C, an error): end() applies the steps taken."""
    # The third block (samples 128..191) stops after 42 of its 64 steps.
    step_by_step, blocked, _, _ = per_sample_both_ways(2, 200, 170, 64)
    for a, b in zip(step_by_step.tensors, blocked.tensors, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


def test_block_gemm_threads_are_set_for_the_gemms_only():
    cores = torch.get_num_threads()
    seen = []
    p = MlpParams(build_mlp(0))
    sgd = BlockedSampleSgd(p, 0.01, torch.device("cpu"), block=4, block_threads=cores + 1)
    original_addmm = torch.addmm

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original_addmm(*args, **kwargs)

    torch.addmm = spy
    try:
        sgd.begin()
        sgd.next_block(torch.rand(4, 784))
    finally:
        torch.addmm = original_addmm
    sgd.end()
    assert seen == [cores + 1] and torch.get_num_threads() == cores


def test_inputs_are_bit_identical_to_totensor(tiny_data):
    run = TrainingRun(TrainConfig(engine="tuned", device="cpu"), tiny_data)
    idx = torch.tensor([3, 0, 511])
    expected = torch.stack([tiny_data.train[i][0].reshape(-1) for i in idx.tolist()])
    source = run.engine.source  # resident: the images at positions of the epoch's order
    source.start_epoch(torch.arange(run.result.train_size))  # dataset order: index = position
    assert torch.equal(source.at(idx), expected)
    assert source.images.dtype == torch.uint8  # decoded once, kept as bytes


def test_evaluate_agrees_with_the_torch_engine_on_the_same_weights(tiny_data):
    for seed in (0, 1):
        accs = [
            TrainingRun(TrainConfig(engine=e, device="cpu", seed=seed), tiny_data).engine.evaluate()
            for e in ("torch", "tuned")
        ]
        assert accs[0] == accs[1]


class ThreadsSeen:
    """A reporter that notes the CPU threads in use while an epoch trains."""

    def __init__(self):
        self.seen = set()

    def start_run(self, run, updates_per_epoch):
        pass

    def start_epoch(self, epoch, samples, updates):
        pass

    def advance(self, samples, updates, running_loss):
        self.seen.add(torch.get_num_threads())

    def end_epoch(self, result):
        pass


@pytest.mark.parametrize(
    ("rule", "mode"),
    [("sample", "eager"), pytest.param("sample", "kernel", marks=needs_numba), ("batch", "eager")],
)
def test_threads_one_while_training_per_sample_steps_then_given_back(tiny_data, rule, mode):
    cores = torch.get_num_threads()
    reporter = ThreadsSeen()
    config = TrainConfig(rule=rule, engine="tuned", step_mode=mode, device="cpu", epochs=1)
    trained = train(config, data=tiny_data, reporter=reporter)
    # Eager per-sample steps are torch ops too small to split; the kernel mode runs no
    # torch op between its block GEMMs, which keep every core.
    expected = 1 if (rule, mode) == ("sample", "eager") else cores
    assert reporter.seen == {expected} and trained.result.threads == expected
    assert torch.get_num_threads() == cores  # the process keeps its setting


def test_train_and_compare_run_with_the_tuned_engine(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    args = ("--data-dir", tiny_root, "--device", "cpu", "--engine", "tuned", "--epochs", 1)
    result = invoke("train", "--rule", "sample", *args, "--json", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["engine"], data["epochs"][0]["updates"]) == ("tuned", 512)
    result = invoke("compare", *args, "--json", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert {r["engine"] for r in json.loads(out.read_text())["runs"]} == {"tuned"}


def test_the_blocks_gemms_run_in_full_float32_whatever_the_process_set(monkeypatch):
    """P, G and W1's update are every step's correction: TF32 (allowed by "high") would
    put a 1e-3 error into each; the block sets "highest" around them and restores."""
    seen = []
    addmm = torch.addmm

    def spy(*args, **kw):
        seen.append(torch.get_float32_matmul_precision())
        return addmm(*args, **kw)

    monkeypatch.setattr(torch, "addmm", spy)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        sgd = BlockedSampleSgd(MlpParams(build_mlp(0)), 0.1, torch.device("cpu"), 8)
        sgd.next_block(torch.rand(8, 784))
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)
    assert seen == ["highest"]
