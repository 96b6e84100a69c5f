"""A loss that becomes NaN or infinite stops the run in the epoch it happens, names the
epoch and update, suggests a lower learning rate, and keeps the finished epochs."""

import json

import pytest
import torch

from cli_runner import assert_clean_failure, invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.errors import Diverged
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import KERNEL, needs_numba

HUGE_LR = "1e6"


@pytest.mark.parametrize("engine", ["torch", "tuned"])
@pytest.mark.parametrize("rule", ["sample", "batch"])
def test_a_diverging_run_stops_in_its_first_epoch_and_says_where(tiny_root, tmp_path, rule, engine):
    out = tmp_path / "r.json"
    result = invoke(
        "train", "--rule", rule, "--engine", engine, "--lr", HUGE_LR, "--epochs", "3",
        "--device", "cpu", "--data-dir", tiny_root, "--json", out,
    )  # fmt: skip
    assert_clean_failure(result, 1, "Training diverged", "at epoch 1, update", "--lr 100000")
    assert not out.exists()  # no epoch finished: nothing to keep, nothing half-written


def test_finished_epochs_are_kept_and_no_nan_accuracy_is_reported(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    result = invoke(
        "train", "--rule", "epoch", "--lr", HUGE_LR, "--epochs", "5", "--device", "cpu",
        "--data-dir", tiny_root, "--json", out,
    )  # fmt: skip
    assert_clean_failure(result, 1, "Training diverged", "at epoch 3, update 1 of 1")
    assert "2 epochs had finished" in result.stderr and str(out) in result.stderr
    epochs = json.loads(out.read_text())["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert all(v == v and abs(v) != float("inf") for v in (e["test_acc"], e["train_loss"]))


@pytest.mark.parametrize("tuned_mode", ["eager", KERNEL])
def test_both_engines_name_the_same_update(tiny_data, tuned_mode):
    messages = []
    for engine in ("torch", "tuned"):
        config = TrainConfig(rule="sample", engine=engine, lr=1e6, device="cpu",
                             step_mode="eager" if engine == "torch" else tuned_mode)  # fmt: skip
        with pytest.raises(Diverged) as caught:
            train(config, tiny_data)
        messages.append(str(caught.value))
        assert caught.value.result.epochs == []
    assert messages[0] == messages[1]


@pytest.mark.parametrize(("engine", "mode", "rule", "poison", "update"), [
    ("tuned", "eager", "sample", 37, 37),  # a sample's logits: its update
    pytest.param("tuned", "kernel", "sample", 37, 37, marks=needs_numba),  # once run
    ("tuned", "eager", "batch", 137, 1),  # the 138th sample is in the second update of 100
    ("torch", "eager", "batch", 3, 3),  # an update's recorded loss
])  # fmt: skip
def test_first_nonfinite_update_is_exact(tiny_data, engine, mode, rule, poison, update):
    config = TrainConfig(rule=rule, engine=engine, step_mode=mode, device="cpu")
    run = TrainingRun(config, tiny_data)
    assert run.result.step_mode == mode
    order = run.next_order()
    run.engine.start_epoch(order, run.chunks)
    steps = zip(run.engine.batches(order, run.chunks), run.chunks, strict=False)
    for _, (batch, chunk) in zip(range(5 if rule == "batch" else 100), steps, strict=False):
        run.engine.step(batch, chunk)
    run.engine.flush_steps()  # the kernel mode's steps run a block at a time, or when asked
    if engine == "tuned":
        run.engine._logits[poison, 0] = float("nan")
    else:
        run.ledger.means[poison] = float("inf")
    assert run.ledger.first_nonfinite_update() == update
    # One ledger: the running loss the loop checks sees the poison too, for both engines
    # (the torch engine kept its running sum apart from its per-update record before).
    assert not torch.isfinite(torch.tensor(run.ledger.running_loss()))


def test_compare_records_a_rule_that_diverges_and_goes_on(tiny_root, tmp_path):
    """A grid's trial that diverges is recorded as diverged, not raised: the other rules'
    runs, the tables and the files are there, and the diverged rule is said to be."""
    out, table = tmp_path / "c.json", tmp_path / "c.csv"
    result = invoke(
        "compare", "--rules", "batch,sample", "--epochs", "2", "--lr-sample", HUGE_LR,
        "--device", "cpu", "--data-dir", tiny_root, "--json", out, "--csv", table,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert {t["label"]: t["status"] for t in data["trials"]} == {
        "batch": "finished", "sample": "diverged"}  # fmt: skip
    assert [(r["rule"], len(r["epochs"])) for r in data["runs"]] == [("batch", 2), ("sample", 0)]
    assert len(table.read_text().splitlines()) == 1 + 2  # a header and batch's two epochs
    assert "diverged" in result.output
