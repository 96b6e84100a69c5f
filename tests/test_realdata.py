"""The reference results on real MNIST (about 4 minutes on 2 CPU cores).

Needs the real data set: ../shared/data/MNIST/raw/ beside the repository, or the
directory in $MNIST_RULES_REAL_DATA (see conftest.py). Skipped, and reported as
skipped, without it.
"""

import itertools
import json
import subprocess
import sys

import pytest

from mnist_rules.config.train_config import TrainConfig
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.training.loop import train
from optional_packages import needs_numba

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def mnist(real_data_dir):
    return load(DatasetName.mnist, real_data_dir)


def test_batch_rule_92_after_one_epoch_and_96_by_the_fourth(real_data_dir, tmp_path):
    # Through the installed entry point, as a user runs it.
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "mnist_rules", "train", "--rule", "batch", "--epochs", "4",
           "--data-dir", str(real_data_dir), "--json", str(out), "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    epochs = json.loads(out.read_text())["epochs"]
    assert [e["updates"] for e in epochs] == [600] * 4
    assert epochs[0]["test_acc"] >= 91.0
    assert epochs[3]["test_acc"] >= 96.0


def test_sample_rule_95_after_one_epoch(mnist):
    # The reference's figures with the plain engine, the baseline (the default is tuned).
    result = train(
        TrainConfig(rule="sample", epochs=1, engine="torch", device="cpu"), data=mnist
    ).result
    assert result.epochs[0].updates == 60_000
    assert result.epochs[0].test_acc >= 95.0


def test_epoch_rule_between_25_and_55_after_ten_epochs_with_falling_loss(mnist):
    result = train(
        TrainConfig(rule="epoch", epochs=10, engine="torch", device="cpu"), data=mnist
    ).result
    assert [e.updates for e in result.epochs] == [1] * 10
    losses = [e.train_loss for e in result.epochs]
    assert all(later < earlier for earlier, later in itertools.pairwise(losses))
    assert 25.0 <= result.final.test_acc <= 55.0


@pytest.mark.parametrize("rule,epochs", [("batch", 1), ("epoch", 2)])
def test_tuned_engine_gives_the_torch_engines_accuracy_within_a_tenth(mnist, rule, epochs):
    accs = {}
    for engine in ("torch", "tuned"):
        config = TrainConfig(rule=rule, epochs=epochs, engine=engine, device="cpu")
        accs[engine] = [e.test_acc for e in train(config, data=mnist).result.epochs]
    assert accs["tuned"] == pytest.approx(accs["torch"], abs=0.1)


@pytest.mark.parametrize("mode", ["eager", pytest.param("kernel", marks=needs_numba)])
def test_tuned_engine_sample_rule_95_after_one_epoch(mnist, mode):
    # Not compared with the torch engine to 0.1 points: 60,000 sequential updates are
    # chaotic, and any reordering of the float arithmetic moves this figure: the
    # reference's 95% is the floor. Measured after one epoch: torch engine 95.70%;
    # tuned 96.05%, 95.78% (log-softmax in the step), 96.27% (blocks of 64); autograd
    # with inputs scaled by *(1/255), 95.67%; the kernel step mode 95.61% at first, now
    # 95.88% on an Intel Xeon and 96.00% on an AMD EPYC (the same code).
    config = TrainConfig(rule="sample", epochs=1, engine="tuned", step_mode=mode,
                         device="cpu")  # fmt: skip
    result = train(config, data=mnist).result
    assert result.epochs[0].updates == 60_000 and result.step_mode == mode
    assert result.epochs[0].test_acc >= 95.0


def test_stream_mode_meets_the_batch_rules_reference_with_its_block_shuffle(real_data_dir):
    """The batch rule in stream mode shuffles six blocks of 10,000 (and within them),
    not the whole set: the reference's 91% after one epoch must hold all the same."""
    streamed = load(DatasetName.mnist, real_data_dir, stream=True)
    config = TrainConfig(rule="batch", epochs=1, engine="tuned", device="cpu",
                         data_mode="stream")  # fmt: skip
    result = train(config, data=streamed).result
    assert result.data_mode == "stream" and result.epochs[0].updates == 600
    assert result.epochs[0].test_acc >= 91.0
