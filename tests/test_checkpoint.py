"""Checkpoints and resume: a run interrupted (or killed after a periodic checkpoint)
and resumed ends with the same weights, bit for bit, and the same metrics as one that
ran straight through; a checkpoint of another run, or a file that is not one, is
refused with a clear message and nothing is written."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from checkpoint_runs import KeepEach, assert_same_run
from cli_runner import assert_clean_failure, invoke
from idx_files import write_dataset
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.errors import Diverged, Interrupted, UserError
from mnist_rules.training import checkpoint as ckpt
from mnist_rules.training.checkpoint import Checkpointer
from mnist_rules.training.interrupts import STOP
from mnist_rules.training.loop import TrainingRun, train
from optional_packages import needs_numba
from stop_requests import SignalIn

CASES = [  # (engine, rule, step mode)
    ("torch", "sample", "eager"),
    ("tuned", "sample", "eager"),
    pytest.param("tuned", "sample", "kernel", marks=needs_numba),
    ("torch", "batch", "eager"),
    ("tuned", "batch", "eager"),
    ("torch", "epoch", "eager"),
    ("tuned", "epoch", "eager"),
]


@pytest.mark.parametrize(("engine", "rule", "mode"), CASES)
def test_interrupted_then_resumed_is_bitwise_the_uninterrupted_run(
    tiny_data, tmp_path, engine, rule, mode
):
    config = lambda: TrainConfig(rule=rule, engine=engine, step_mode=mode, epochs=3, device="cpu")  # noqa: E731
    whole = train(config(), tiny_data)
    path = tmp_path / "c.pt"
    try:
        with pytest.raises(Interrupted) as caught:
            train(config(), tiny_data, reporter=SignalIn(epoch=2), checkpoint=Checkpointer(path))
    finally:
        STOP.signal = None
    assert f"--resume {path}" in str(caught.value)
    state = ckpt.read(path)
    at = state["position"]
    if rule == "epoch":  # its one update ends the epoch: it stops between epochs
        assert (at["epochs"], at["samples"]) == (2, 0)
    else:  # mid-epoch; the tuned engine's per-sample steps at a block's end
        assert at["epochs"] == 1 and 0 < at["samples"] < 512
        assert engine == "torch" or rule == "batch" or at["samples"] % 128 == 0
    resumed = train(config(), tiny_data, resume=state)
    assert_same_run(whole, resumed)


@pytest.mark.parametrize(("engine", "mode", "every", "positions"), [
    ("torch", "eager", 150, [150, 300, 450]),
    ("tuned", "eager", 150, [256, 384]),  # per-sample: the first block's end at or after each
    pytest.param("tuned", "kernel", 150, [256, 384], marks=needs_numba),
])  # fmt: skip
def test_a_periodic_checkpoint_resumes_bitwise(tiny_data, tmp_path, engine, mode, every, positions):
    config = lambda: TrainConfig(rule="sample", engine=engine, step_mode=mode, epochs=2,  # noqa: E731
                                 device="cpu")  # fmt: skip
    saver = KeepEach(tmp_path / "c.pt", every=every)
    whole = train(config(), tiny_data, checkpoint=saver)
    in_epoch_2 = [s for s in saver.kept if s["position"]["epochs"] == 1]
    assert [s["position"]["samples"] for s in in_epoch_2 if s["position"]["samples"]] == positions
    mid = next(s for s in in_epoch_2 if s["position"]["samples"])  # as if killed just after
    assert_same_run(whole, train(config(), tiny_data, resume=mid))


@pytest.mark.parametrize(("engine", "train_size"), [("torch", 2000), ("tuned", 40_000)])
def test_sigint_to_a_process_writes_a_checkpoint_that_resumes_bitwise(tmp_path, engine, train_size):
    """A real SIGINT, mid-epoch, to `mnist-rules train`; then --resume in a new process.
    The tuned engine runs its default step mode: on the CPU, the kernel."""
    root = tmp_path / "data"
    write_dataset(root, train=train_size, test=200)  # an epoch of 0.5-2 s: time to land in
    base = [sys.executable, "-m", "mnist_rules", "train", "--rule", "sample", "--epochs", "2",
            "--engine", engine, "--device", "cpu", "--data-dir", str(root), "--quiet"]  # fmt: skip
    whole = tmp_path / "whole.pt"
    subprocess.run([*base, "--save", str(whole)], check=True, timeout=120)

    check = tmp_path / "c.pt"
    command = [*base, "--checkpoint", str(check)]
    command[command.index("--quiet")] = "--json"  # not quiet: epoch lines show the progress
    command.insert(command.index("--json") + 1, str(tmp_path / "part.json"))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        for line in proc.stdout:
            if line.startswith("epoch 1/2"):
                break
        # Into epoch 2 by a third of epoch 1's training time, as this machine ran it: the
        # signal lands mid-epoch on a machine of any speed.
        epoch_1 = re.search(r"train\s+([\d.]+) s", line)
        assert epoch_1 is not None, f"no epoch line: {line!r}"
        time.sleep(float(epoch_1.group(1)) / 3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Interrupted (SIGINT) at epoch 2" in stderr and "Traceback" not in stderr
    assert f"run the same command with --resume {check}" in stderr
    assert 0 < ckpt.read(check)["position"]["samples"] < train_size

    resumed, out = tmp_path / "resumed.pt", tmp_path / "resumed.json"
    done = subprocess.run(
        [*base, "--resume", str(check), "--save", str(resumed), "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    a, b = torch.load(whole, weights_only=True), torch.load(resumed, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e["epoch"] for e in json.loads(out.read_text())["epochs"]] == [1, 2]


@pytest.fixture(scope="module")
def sample_checkpoint(tiny_root, tmp_path_factory):
    """A checkpoint of the sample rule after 2 epochs on the tiny set."""
    path = tmp_path_factory.mktemp("checkpoint") / "c.pt"
    done = invoke("train", "--rule", "sample", "--epochs", "2", "--device", "cpu",
                  "--data-dir", tiny_root, "--checkpoint", path, "--quiet")  # fmt: skip
    assert done.exit_code == 0, done.output
    return path


def resume(tiny_root, tmp_path, check, *args):
    out = tmp_path / "out.json"
    result = invoke("train", "--device", "cpu", "--data-dir", tiny_root, "--json", out,
                    "--resume", check, *args)  # fmt: skip
    return result, out


@pytest.mark.parametrize(("args", "phrases"), [
    (["--rule", "batch"], ["rule sample (this command: batch)", "--rule sample"]),
    (["--rule", "sample", "--lr", "0.02"], ["lr 0.01 (this command: 0.02)", "--lr 0.01"]),
    (["--rule", "sample", "--train-subset", "256"],
     ["train_size 512 (this command: 256)", "other training images"]),
    (["--rule", "sample", "--engine", "torch"], ["engine tuned (this command: torch)"]),
    (["--rule", "sample", "--seed", "3"], ["seed 0 (this command: 3)", "--seed 0"]),
])  # fmt: skip
def test_a_checkpoint_of_another_run_is_refused(
    tiny_root, tmp_path, sample_checkpoint, args, phrases
):
    result, out = resume(tiny_root, tmp_path, sample_checkpoint, *args)
    assert_clean_failure(result, 2, "the checkpoint is from a different run", *phrases)
    assert not out.exists()


def test_a_checkpoint_of_another_model_is_refused(tiny_root, tmp_path, sample_checkpoint):
    state = ckpt.read(sample_checkpoint)
    state["identity"]["model"] = "784-100-10"  # as another version's network would say
    other = tmp_path / "other-model.pt"
    torch.save(state, other)
    result, out = resume(tiny_root, tmp_path, other, "--rule", "sample", "--epochs", "3")
    assert_clean_failure(result, 2, "model 784-100-10 (this command: 784-400-256-10)")
    assert not out.exists()


def test_a_checkpoint_of_another_data_set_is_refused(tmp_path, sample_checkpoint):
    root = tmp_path / "data"
    write_dataset(root)
    write_dataset(root, folder="FashionMNIST")  # the same bytes: the name alone differs
    result, out = resume(root, tmp_path, sample_checkpoint, "--rule", "sample",
                         "--dataset", "fashion-mnist")  # fmt: skip
    assert_clean_failure(
        result, 2, "dataset mnist (this command: fashion-mnist)", "--dataset mnist"
    )
    assert not out.exists()


def test_resume_trains_on_to_more_epochs_and_refuses_fewer(tiny_root, tmp_path, sample_checkpoint):
    result, out = resume(
        tiny_root, tmp_path, sample_checkpoint, "--rule", "sample", "--epochs", "1"
    )
    assert_clean_failure(result, 2, "the checkpoint has 2 finished epochs", "--epochs 2 or more")
    result, out = resume(
        tiny_root, tmp_path, sample_checkpoint, "--rule", "sample", "--epochs", "3"
    )
    assert result.exit_code == 0, result.output
    assert "resuming from" in result.output and "2 epochs finished" in result.output
    saved = ckpt.read(sample_checkpoint)["result"]["epochs"]
    epochs = json.loads(out.read_text())["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and epochs[:2] == saved


class Payload:
    """Unpickling it opens (creates) `marker`: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_tampered_checkpoint_is_refused_and_its_code_never_runs(
    tiny_root, tmp_path, sample_checkpoint
):
    state = ckpt.read(sample_checkpoint)
    marker = tmp_path / "code-ran"
    state["result"]["note"] = Payload(marker)
    tampered = tmp_path / "tampered.pt"
    torch.save(state, tampered)
    result, out = resume(tiny_root, tmp_path, tampered, "--rule", "sample", "--epochs", "3")
    assert_clean_failure(result, 1, "refused", "weights_only=True", "Unsupported global")
    assert not marker.exists() and not out.exists()
    torch.load(tampered, weights_only=False)  # the payload is live: full unpickling runs it
    assert marker.exists()


@pytest.mark.parametrize(("content", "phrase"), [
    (b"not a checkpoint at all", "cannot be read as a checkpoint"),
    (b"hello", "cannot be read as a checkpoint"),  # torch's legacy reader: a KeyError
    (b"", "cannot be read as a checkpoint"),
    ("truncated", "cannot be read as a checkpoint"),
    ("other torch file", "not an mnist-rules checkpoint"),
])  # fmt: skip
def test_a_file_that_is_not_a_checkpoint_is_refused(
    tiny_root, tmp_path, sample_checkpoint, content, phrase
):
    bad = tmp_path / "bad.pt"
    if content == "truncated":
        bad.write_bytes(sample_checkpoint.read_bytes()[:5000])
    elif content == "other torch file":
        torch.save({"weight": torch.zeros(3)}, bad)
    else:
        bad.write_bytes(content)
    result, out = resume(tiny_root, tmp_path, bad, "--rule", "sample", "--epochs", "3")
    assert_clean_failure(result, 1, f"--resume {bad}", phrase)
    assert not out.exists()


@pytest.mark.parametrize(("args", "phrase"), [
    (["--resume", "missing.pt"], "does not exist"),
    (["--checkpoint-every", "10"], "--checkpoint-every needs --checkpoint"),
    (["--rule", "epoch", "--checkpoint", "c.pt", "--checkpoint-every", "10"],
     "applies to the batch and sample rules"),
    (["--checkpoint", "no/such/dir/c.pt"], "does not exist"),
])  # fmt: skip
def test_bad_checkpoint_options_exit_2_before_training(
    tiny_root, tmp_path, monkeypatch, args, phrase
):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "--device", "cpu", "--data-dir", tiny_root, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert phrase in result.output  # typer's own messages (missing file) go to output too
    assert not (tmp_path / "c.pt").exists()


def test_divergence_names_the_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    """The checkpoint on disk is from before the divergence: the message says which."""
    run_epoch = TrainingRun.run_epoch

    def poisoned_after_two(self, reporter, checkpoint=None):
        if len(self.result.epochs) == 2:
            self.engine.model.fc3.bias.data.fill_(float("nan"))
        return run_epoch(self, reporter, checkpoint)

    monkeypatch.setattr(TrainingRun, "run_epoch", poisoned_after_two)
    path = tmp_path / "c.pt"
    with pytest.raises(Diverged) as caught:
        train(
            TrainConfig(rule="batch", epochs=4, device="cpu"),
            tiny_data,
            checkpoint=Checkpointer(path),
        )
    assert f"The last checkpoint, after epoch 2, is in {path}." in str(caught.value)
    assert ckpt.read(path)["position"]["epochs"] == 2


def test_a_version_1_checkpoint_resumes_between_epochs_and_is_refused_mid_epoch(
    tiny_data, tmp_path
):
    """Version 1 kept each engine's own loss bookkeeping: nothing of it is needed between
    epochs, so those checkpoints go on; one written mid-epoch cannot, and says so."""
    config = lambda epochs: TrainConfig(rule="batch", engine="tuned", epochs=epochs, device="cpu")  # noqa: E731
    path = tmp_path / "c.pt"
    train(config(1), tiny_data, checkpoint=Checkpointer(path))
    state = ckpt.read(path)
    state["version"] = 1
    state["engine_progress"] = state.pop("losses")  # None between epochs, as version 1 wrote
    ckpt.write(path, state)
    resumed = train(config(2), tiny_data, resume=ckpt.read(path), resume_path=path)
    assert_same_run(resumed, train(config(2), tiny_data))
    state["position"]["samples"] = 100  # as if stopped at update 1 of the epoch
    ckpt.write(path, state)
    with pytest.raises(UserError, match="a version 1 checkpoint; this mnist-rules reads version 2"):
        ckpt.read(path)


def test_a_torchrun_stop_mid_epoch_says_where_the_epoch_end_checkpoint_is(tiny_data, tmp_path):
    """Under torchrun the processes stop together at a refresh, where no checkpoint is
    written: the message names the last one, from an epoch's end."""
    from mnist_rules.training import loop
    from mnist_rules.training.reporter import SILENT

    config = TrainConfig(rule="batch", engine="tuned", epochs=3, device="cpu")
    run = TrainingRun(config, tiny_data)
    checkpoint = Checkpointer(tmp_path / "c.pt")
    calls = []

    def run_epoch(reporter, checkpoint):
        calls.append(1)
        if len(calls) == 2:  # the second epoch: stopped mid-way, as a torchrun job stops
            run.stopped_mid_epoch = True
            raise run._interrupted(3)
        return TrainingRun.run_epoch(run, reporter, checkpoint)

    run.run_epoch = run_epoch
    with pytest.raises(
        Interrupted,
        match=r"checkpoints are written at epoch ends: the last, after epoch 1, is in",
    ):
        loop._train_epochs(run, config, SILENT, checkpoint, None, "c.pt")
