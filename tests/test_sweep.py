"""`mnist-rules sweep` end to end on the tiny generated set: the sizes it trains, the
JSON, CSV and figure it writes, its verdict, and the sizes it refuses."""

import csv
import json
import math

import pytest

from cli_runner import assert_clean_failure, invoke
from histories import history
from mnist_rules.api.sweep import ALL, parse_sizes
from mnist_rules.errors import UsageError
from mnist_rules.report.comparison import Comparison, size_label
from mnist_rules.report.numbers import duration
from mnist_rules.report.sweep_verdict import sweep_verdict
from test_compare_cli import panels

N = 300  # a subset of the tiny set


def sweep_tiny(tiny_root, *args):
    return invoke(
        "sweep", "--data-dir", tiny_root, "--device", "cpu", "--train-subset", N, *args
    )  # fmt: skip


@pytest.fixture(scope="module")
def outputs(tiny_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    result = sweep_tiny(
        tiny_root, "--sizes", "1,10,64,all", "--epochs", 2, "--target-acc", 30,
        "--json", out / "s.json", "--csv", out / "s.csv", "--plot", out / "s.png",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result, out


def test_each_size_trains_its_updates_per_epoch_from_the_same_weights(outputs):
    _, out = outputs
    data = json.loads((out / "s.json").read_text())
    runs = data["runs"]
    assert [r["batch_size"] for r in runs] == [1, 10, 64, N]
    assert [[e["updates"] for e in r["epochs"]] for r in runs] == [
        [N] * 2, [math.ceil(N / 10)] * 2, [math.ceil(N / 64)] * 2, [1] * 2
    ]  # fmt: skip
    assert [r["rule"] for r in runs] == ["sample", "batch", "batch", "epoch"]
    assert [r["lr"] for r in runs] == [0.01, 0.1, 0.1, 0.1]  # the reference's by default
    assert {r["seed"] for r in runs} == {0}
    assert all(isinstance(r["peak_memory_bytes"], int) for r in runs)  # measured, each
    assert set(data["time_to_target"]) == {"1", "10", "64", "all"}
    assert data["target_acc"] == 30.0


def test_the_csv_has_a_row_per_size_per_epoch(outputs):
    _, out = outputs
    rows = list(csv.DictReader((out / "s.csv").open()))
    assert [(r["samples_per_update"], r["epoch"]) for r in rows] == [
        (str(b), str(e)) for b in (1, 10, 64, N) for e in (1, 2)
    ]


def test_the_figure_is_a_real_png_with_its_three_panels(outputs):
    _, out = outputs
    assert panels(out / "s.png") == [
        "Training seconds to 30% test accuracy",
        "Steps to the target against samples per update",
        "Test accuracy against training time",
    ]


def test_the_json_carries_the_model_and_the_noise_scale(outputs):
    """The fits' keys are there, finite where there were points to fit, and B_simple
    was measured along the fastest size's training: at its start and each epoch's end."""
    result, out = outputs
    data = json.loads((out / "s.json").read_text())
    model = data["model"]
    missed = [p["size"] for p in model["not_reached"]]
    reached = [b for b in (1, 10, 64, N) if b not in missed]
    assert {"b_crit", "s_min", "engines", "noise_scale", "points"} <= set(model)
    assert len(reached) >= 2  # at 30% on the tiny set, most sizes get there
    assert math.isfinite(model["b_crit"]) and math.isfinite(model["s_min"])
    assert [p["size"] for p in model["points"]] == reached
    tuned = model["engines"]["tuned"]
    assert tuned["t0"] > 0 and tuned["c"] > 0  # every size trained: a cost fit
    assert [p["size"] for p in tuned["points"]] == [1, 10, 64, N]
    noise = model["noise_scale"]
    assert noise is not None  # the fastest size's: one reached the target
    assert noise["label"] in data["time_to_target"]
    assert [p["epoch"] for p in noise["points"]] == [0, 1, 2]
    assert all("b_simple" in p for p in noise["points"])
    assert "measuring the gradient noise scale along size" in result.output
    assert "Why (docs/theory.md):" in result.output


def test_it_prints_the_table_and_the_verdict(outputs):
    result, _ = outputs
    assert "Samples per update swept" in result.output
    assert "per update" in result.output and "peak MiB" in result.output
    assert "30%" in result.output and "The curve" in result.output


def test_one_lr_for_every_size(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = sweep_tiny(tiny_root, "--sizes", "1,all", "--epochs", 1, "--lr", 0.05, "--json", out)
    assert result.exit_code == 0, result.output
    assert [r["lr"] for r in json.loads(out.read_text())["runs"]] == [0.05, 0.05]


def run(size, accs, seconds=1.0):
    rule = "epoch" if size == N else "sample" if size == 1 else "batch"
    result = history(rule, accs, seconds, batch_size=size)
    result.train_size = N
    return result


def test_the_verdict_names_the_soonest_size_and_where_the_curve_turns():
    runs = [run(1, [97], 4.0), run(10, [96.5], 1.0), run(100, [90, 96.2], 1.0), run(N, [50])]
    text = sweep_verdict(Comparison(runs, 96, label=size_label))
    assert text.startswith("10 samples per update reached 96% soonest: at epoch 1, after 1.0 s")
    assert "2.0x sooner than 100 (epoch 2, 2.0 s)" in text
    assert "4.0x sooner than 1 (epoch 1, 4.0 s)" in text
    assert "Size all did not reach it in 2 epochs (best 50.00%)" in text
    assert "smaller updates (1) and larger ones (100 and all) took longer" in text


def test_the_verdict_when_no_size_reaches_the_target():
    runs = [run(1, [80, 85]), run(10, [88, 89])]
    text = sweep_verdict(Comparison(runs, 99, label=size_label))
    assert text == (
        "No update size reached 99% in 2 epochs; the closest was 10 samples per update,"
        " with 89.00% at epoch 2."
    )


def test_sizes_parse_to_numbers_and_all():
    assert parse_sizes("1, 10,all") == [1, 10, ALL]


@pytest.mark.parametrize(("sizes", "phrase"), [
    ("0", "a size must be at least 1"),
    ("1,x", "'x' is not a number of samples per update"),
    ("10,10", "each size may be named once"),
    ("", "--sizes needs at least one size"),
])  # fmt: skip
def test_a_bad_size_is_refused_before_training(sizes, phrase):
    with pytest.raises(UsageError, match=phrase):
        parse_sizes(sizes)


@pytest.mark.parametrize(("sizes", "phrase"), [
    ("0", "a size must be at least 1"),
    ("10,10", "each size may be named once"),
    ("1,x", "'x' is not a number"),
    ("1,301", "301 samples per update is more than the training set (300 images)"),
    (f"{N},all", "300 and all are both the whole training set"),
])  # fmt: skip
def test_bad_sizes_exit_2_and_write_nothing(tiny_root, tmp_path, sizes, phrase):
    out = tmp_path / "s.json"
    result = sweep_tiny(tiny_root, "--sizes", sizes, "--json", out)
    assert_clean_failure(result, 2, phrase)
    assert not out.exists()


def test_durations_keep_two_significant_figures():
    assert [duration(s) for s in (2.345, 0.0456, 0.000023, 150.0, 5e-9)] == [
        "2.3 s", "46 ms", "23 µs", "150 s", "5.0 ns"
    ]  # fmt: skip


def test_a_size_that_stopped_sooner_than_the_winner_is_not_said_to_take_longer():
    runs = [run(1, [96.5], 3.0), run(100, [95.0, 95.5], 1.0), run(N, [20.0], 0.5)]
    text = sweep_verdict(Comparison(runs, 96, label=size_label))
    assert "Sizes 100 and all stopped before 3.0 s of training: more epochs would show" in text
    assert text.endswith("No other size trained long enough to compare.")
