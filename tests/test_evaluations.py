"""--evals-per-epoch: readings of the test accuracy within the epoch, off the clock, that
change nothing (the weights are bit for bit those of one reading an epoch), and a
caller's on_evaluation that ends a run at the reading that asks."""

import pytest
import torch

from cli_runner import invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.training import evaluations
from mnist_rules.training.loop import train
from optional_packages import needs_numba

CPU = "cpu"


def config(rule, k, engine="tuned", mode="auto", **kw) -> TrainConfig:
    kw = {"epochs": 2, "device": CPU, **kw}
    return TrainConfig(rule=rule, engine=engine, step_mode=mode, evals_per_epoch=k, **kw)


def test_the_marks_are_evenly_spaced_update_counts():
    assert evaluations.marks(600, 1) == []
    assert evaluations.marks(600, 4) == [150, 300, 450]
    assert evaluations.marks(10, 3) == [4, 7]  # ceil(10/3), ceil(20/3)
    assert evaluations.marks(5, 5) == [1, 2, 3, 4]


CASES = [
    ("batch", "tuned", "auto"),
    ("batch", "tuned", "eager"),
    ("sample", "tuned", "eager"),
    ("batch", "torch", "eager"),
    ("sample", "torch", "eager"),
    pytest.param("sample", "tuned", "kernel", marks=needs_numba),
    pytest.param("batch", "tuned", "kernel", marks=needs_numba),
]


@pytest.mark.parametrize(("rule", "engine", "mode"), CASES)
def test_seven_readings_an_epoch_leave_the_weights_bit_for_bit(tiny_data, rule, engine, mode):
    kw = {} if rule != "batch" else {"batch_size": 10 if mode == "kernel" else 50}
    one = train(config(rule, 1, engine, mode, **kw), tiny_data)
    seven = train(config(rule, 7, engine, mode, **kw), tiny_data)
    a, b = one.engine.weights(), seven.engine.weights()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e.train_loss for e in one.result.epochs] == [e.train_loss for e in seven.result.epochs]
    # Seven an epoch, the last at its end, where it agrees with the epoch's own reading.
    # Blocked steps (the tuned engine's per-sample steps and kernel mode) stop only at a
    # block's end: marks within one block are one reading there.
    blocked = engine == "tuned" and (rule == "sample" or mode != "eager")
    for n in (1, 2):
        counts = [p.updates for p in seven.result.evaluations if p.epoch == n]
        assert len(counts) == len(set(counts)) and counts == sorted(counts)
        assert 2 <= len(counts) <= 7 if blocked else len(counts) == 7
    assert len(one.result.evaluations) == 2
    ends = [p for p in seven.result.evaluations if p.updates % one.result.epochs[0].updates == 0]
    assert [e.test_acc for e in ends] == [e.test_acc for e in seven.result.epochs]
    assert [e.test_acc for e in ends] == [e.test_acc for e in one.result.evaluations]


def test_each_reading_counts_updates_samples_and_seconds_from_the_run_start(tiny_data):
    run = train(config("batch", 4, batch_size=100), tiny_data)  # 512 images: 6 updates
    points = run.result.evaluations
    assert [(p.epoch, p.updates, p.samples) for p in points] == [
        (1, 2, 200), (1, 3, 300), (1, 5, 500), (1, 6, 512),
        (2, 8, 712), (2, 9, 812), (2, 11, 1012), (2, 12, 1024),
    ]  # fmt: skip
    seconds = [p.train_seconds for p in points]
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert seconds[3] == pytest.approx(run.result.epochs[0].train_seconds)
    assert seconds[-1] == pytest.approx(run.result.total_train_seconds)
    assert run.result.to_dict()["evaluations"][0]["samples"] == 200


@pytest.mark.parametrize("mode", ["eager", pytest.param("kernel", marks=needs_numba)])
def test_per_sample_readings_wait_for_a_blocks_end(tiny_data, mode):
    """The tuned engine's per-sample steps stop at blocks of 128 only."""
    run = train(config("sample", 3, mode=mode, epochs=1), tiny_data)  # marks 171, 342
    assert [p.updates for p in run.result.evaluations] == [256, 384, 512]


def test_on_evaluation_ends_the_run_at_the_reading_that_asks(tiny_data):
    asked = []

    def stop_at_third(point):
        asked.append(point)
        return "target" if len(asked) == 3 else None

    stopping = config("batch", 4, mode="eager", epochs=3, batch_size=50)
    run = train(stopping, tiny_data, on_evaluation=stop_at_third)
    result = run.result
    assert result.stopped_early == "target" and len(result.evaluations) == 3
    assert len(result.epochs) == 1  # the epoch it stopped in, recorded as far as it went
    epoch = result.epochs[0]
    assert epoch.updates == result.evaluations[-1].updates == 9  # ceil(3 * 11 / 4)
    assert epoch.test_acc == result.evaluations[-1].test_acc
    assert epoch.train_seconds >= result.evaluations[-1].train_seconds  # and the loss read


def test_more_readings_than_updates_is_refused(tiny_root):
    result = invoke("train", "--rule", "epoch", "--evals-per-epoch", "2", "--epochs", "1",
                    "--data-dir", tiny_root, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 2
    assert "--evals-per-epoch 2 is more evaluations than the epoch rule makes updates" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_fewer_than_one_reading_is_refused(tiny_root):
    result = invoke("train", "--evals-per-epoch", "0", "--data-dir", tiny_root)
    assert result.exit_code == 2 and "--evals-per-epoch" in result.output


def test_a_run_resumed_mid_epoch_keeps_every_reading(tiny_data, tmp_path):
    """A reading due where a checkpoint is saved is taken first, so the checkpoint keeps
    it, and the resumed run's readings are the uninterrupted run's."""
    from checkpoint_runs import KeepEach

    run_config = config("batch", 4, mode="eager", batch_size=50)  # 11 updates; marks 3, 6, 9
    keep = KeepEach(tmp_path / "c.pt", 3)
    whole = train(run_config, tiny_data, checkpoint=keep)
    mid = next(s for s in keep.kept if s["position"]["samples"] and s["position"]["updates"] == 6)
    resumed = train(run_config, tiny_data, resume=mid, resume_path=tmp_path / "c.pt")
    assert [(p.epoch, p.updates, p.test_acc) for p in resumed.result.evaluations] == [
        (p.epoch, p.updates, p.test_acc) for p in whole.result.evaluations]  # fmt: skip
    assert len(whole.result.evaluations) == 8
