"""What compare concludes, on synthetic histories: time to target, the overfitting
peak, the verdict, and the JSON and CSV it writes."""

import csv
import json

import pytest

from histories import history
from mnist_rules.report.comparison import (
    CSV_COLUMNS,
    Comparison,
    TargetReached,
    overfit_peak,
    time_to_target,
)


def test_time_to_target_is_the_first_epoch_at_or_above_it_with_cumulative_seconds():
    run = history("batch", [90.0, 95.9, 96.0, 97.0], seconds=[2.0, 3.0, 4.0, 5.0])
    assert time_to_target(run, 96.0) == TargetReached(epoch=3, seconds=9.0)
    assert time_to_target(run, 96.5) == TargetReached(epoch=4, seconds=14.0)


def test_target_reached_at_epoch_one_counts_only_that_epochs_seconds():
    run = history("sample", [96.5, 97.0], seconds=[80.0, 81.0])
    assert time_to_target(run, 96.0) == TargetReached(epoch=1, seconds=80.0)


def test_target_never_reached_is_none():
    assert time_to_target(history("epoch", [10.0, 20.0, 37.0]), 96.0) is None


@pytest.mark.parametrize(
    "accs,peak",
    [
        ([90, 95, 97, 96, 95], 3),  # falls twice after the best: marked
        ([90, 95, 97, 96], None),  # only one epoch after the best: not yet
        ([90, 95, 97, 96, 96.5], None),  # fell, then recovered
        ([90, 95, 97, 96, 96], None),  # fell once, then flat: not two falls
        ([90, 91, 92, 93], None),  # still improving
        ([97, 96, 95, 94], 1),  # best at epoch 1
        ([90, 97, 95, 97, 96, 95], 4),  # the best reached twice: the last is the peak
        ([90, 97, 96, 95, 97, 96.5], None),  # fell twice, then back to the best
    ],
)
def test_overfit_peak_needs_two_falls_in_a_row_after_the_best(accs, peak):
    assert overfit_peak(history("batch", [float(a) for a in accs])) == peak


def three_rules():
    return Comparison(
        [
            history("epoch", [20.0, 30.0, 37.0], seconds=8.0, batch_size=1000),
            history("batch", [92.0, 95.0, 96.5], seconds=10.0),
            history("sample", [96.2, 96.8, 96.5], seconds=80.0, batch_size=1, lr=0.01),
        ],
        target_acc=96.0,
    )


def test_json_holds_every_run_and_the_time_to_target(tmp_path):
    comparison = three_rules()
    comparison.write_json(tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text())
    assert [r["rule"] for r in data["runs"]] == ["epoch", "batch", "sample"]
    assert data["runs"][1] == comparison.runs[1].to_dict()
    assert data["target_acc"] == 96.0

    def one_seed(seconds, epoch):  # a label's time to the target over its one seed
        hit = {"seed": 0, "seconds": seconds, "updates": None, "samples": None, "epoch": epoch}
        spread = {"median": seconds, "low": seconds, "high": seconds, "interval": "min-max",
                  "n": 1}  # fmt: skip
        return {"reached": 1, "runs": 1, "diverged": 0, "seconds": spread,
                "median_epoch": epoch, "per_seed": [hit]}  # fmt: skip

    assert data["time_to_target"] == {
        "epoch": {"reached": 0, "runs": 1, "diverged": 0, "seconds": None,
                  "median_epoch": None, "per_seed": [None]},
        "batch": one_seed(30.0, 3),
        "sample": one_seed(80.0, 1),
    }  # fmt: skip
    assert data["final_acc"]["batch"] == {
        "median": 96.5, "low": 96.5, "high": 96.5, "interval": "min-max", "n": 1
    }  # fmt: skip
    assert data["best_acc"]["sample"]["median"] == 96.8
    assert data["peaked_before_last"] == {"epoch": 0, "batch": 0, "sample": 1}
    assert data["overfit_peak_epoch"] == {"epoch": None, "batch": None, "sample": None}
    assert data["trials"] == [] and data["tuning"] is None and data["schema_version"] == 4


def test_csv_round_trips_one_row_per_rule_per_epoch(tmp_path):
    comparison = three_rules()
    comparison.write_csv(tmp_path / "c.csv")
    with open(tmp_path / "c.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 9
    for row, expected in zip(rows, comparison.csv_rows(), strict=True):
        assert row["rule"] == expected["rule"]
        for key in CSV_COLUMNS[1:]:
            if key == "engine":  # the one other column of text
                assert row[key] == expected[key]
                continue
            if expected[key] is None:  # peak memory, where a run did not measure it
                assert row[key] == ""
                continue
            assert float(row[key]) == expected[key]  # repr round-trips floats exactly
    assert [float(r["cumulative_train_seconds"]) for r in rows[3:6]] == [10.0, 20.0, 30.0]
