"""Stream mode against resident mode (issue 8's targets), on a 10x MNIST-sized set
(600,000 images, 470 MB; written by make-large from the generated full-size set) and
on a 6,000-image set, the batch rule with the tuned engine on the CPU.

Each round is a whole `python -m mnist_rules train` job, so that its peak resident
memory (RSS) is that run's alone (bench/peak_rss.py says why it is measured there).
The figures to read are kept in extra_info and checked by bench/speedups.py:
- peak RSS: how much a stream-mode run grows from the 6,000-image set to the 10x
  set (target: less than a quarter of the images' size), and a resident run (at
  least their size);
- samples per second of the epoch's training (its train_seconds, best of the
  rounds): stream at >= 80% of resident.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from idx_files import write_dataset
from mnist_rules.data.make_large import make_large
from mnist_rules.data.mnist import DatasetName, load

ROUNDS = 2
PEAK_RSS = Path(__file__).with_name("peak_rss.py")  # a small parent: see there
COPIES = 10


@pytest.fixture(scope="session")
def sets(full_size_root, tmp_path_factory):
    """{"6k": root, "10x": root}: a 6,000-image training set in its own files (not
    --train-subset: resident mode reads the whole file) and the 10x set."""
    small = tmp_path_factory.mktemp("bench-6k")
    write_dataset(small, train=6_000, test=10_000)
    large = tmp_path_factory.mktemp("bench-10x")
    make_large(load(DatasetName.mnist, full_size_root), COPIES, large)
    return {"6k": small, "10x": large}


def run_job(root, mode: str, out) -> tuple[dict, int]:
    """One training job in a child process: its results and its peak RSS in bytes."""
    command = [sys.executable, str(PEAK_RSS), sys.executable, "-m", "mnist_rules", "train",
               "--rule", "batch", "--engine", "tuned", "--epochs", "1", "--device", "cpu",
               "--data-mode", mode, "--data-dir", str(root), "--json", str(out),
               "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text()), int(done.stdout.split()[-1])


@pytest.mark.parametrize("size", ["6k", "10x"])
@pytest.mark.parametrize("mode", ["resident", "stream"])
def test_stream_job(benchmark, sets, tmp_path, mode, size):
    root = sets[size]
    out = tmp_path / "r.json"
    peaks, seconds = [], []

    def job():
        result, peak = run_job(root, mode, out)
        assert result["data_mode"] == mode
        peaks.append(peak)
        seconds.append(result["epochs"][0]["train_seconds"])

    benchmark.group = "stream vs resident: batch-rule epoch, tuned engine (whole jobs)"
    benchmark.pedantic(job, rounds=ROUNDS, iterations=1)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    n = json.loads(out.read_text())["train_size"]
    benchmark.extra_info.update(
        data_mode=mode,
        set=size,
        train_size=n,
        images_bytes=images.stat().st_size,
        peak_rss_bytes=max(peaks),
        samples_per_second=n / min(seconds),
    )
