"""A label's seeds together, on synthetic histories: the median and its interval (a
bootstrap one from five values, else min-max), reached in k of n, divergence, the JSON,
the verdict's separation and tuning sentences, the tables and the figures' bands."""

import io

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from rich.console import Console

from histories import history
from mnist_rules.grid.records import DIVERGED, FINAL, REACHED, TUNE, TrialRecord, Tuning
from mnist_rules.report.comparison import Comparison, size_label
from mnist_rules.report.replicate_text import DASH
from mnist_rules.report.replicates import BOOTSTRAP, MIN_MAX, spread
from mnist_rules.training.results import Evaluation

N = 300  # a sweep's training set


def seeded(rule, accs, seconds, batch_size=100, lr=0.1):
    """One run per entry of `seconds` (its epochs' seconds), seeds 0, 1, ...; `accs`
    shared, or one list per seed."""
    runs = []
    for seed, secs in enumerate(seconds):
        run = history(rule, accs[seed] if isinstance(accs[0], list) else accs, secs,
                      batch_size, lr)  # fmt: skip
        run.seed = seed
        runs.append(run)
    return runs


def sized(size, accs, seconds, lr=0.1):
    rule = "epoch" if size == N else "sample" if size == 1 else "batch"
    runs = seeded(rule, accs, seconds, batch_size=size, lr=lr)
    for run in runs:
        run.train_size = N
    return runs


def render(renderable, width=240):
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return " ".join(out.getvalue().split())


def cells(text, first):
    """The cells of the table row whose first cell is `first` (the table unflattened)."""
    for line in text.splitlines():
        row = [c.strip() for c in line.strip().strip("│").split("│")]
        if row[0] == first:
            return row
    raise AssertionError(f"no row {first!r} in\n{text}")


def table_text(table):
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(table)
    return out.getvalue()


def test_from_five_values_the_interval_is_scipys_percentile_bootstrap_of_the_median():
    from scipy.stats import bootstrap

    values = [10.0, 11.5, 12.0, 12.5, 14.0, 19.0]
    direct = bootstrap((np.array(values),), np.median, confidence_level=0.95,
                       n_resamples=9999, method="percentile",
                       random_state=np.random.default_rng(0)).confidence_interval  # fmt: skip
    got = spread(values)
    assert (got.median, got.interval, got.n) == (12.25, BOOTSTRAP, 6)
    assert (got.low, got.high) == (direct.low, direct.high)
    assert got.low < got.median < got.high
    assert spread(values) == got  # a fixed generator: the same interval every time


def test_below_five_values_the_interval_is_the_range_and_one_value_is_itself():
    assert spread([3.0, 1.0, 2.0, 10.0]) == spread([1.0, 10.0, 3.0, 2.0])
    four = spread([3.0, 1.0, 2.0, 10.0])
    assert (four.median, four.low, four.high, four.interval) == (2.5, 1.0, 10.0, MIN_MAX)
    one = spread([4.2])
    assert (one.median, one.low, one.high, one.n) == (4.2, 4.2, 4.2, 1)


def test_reached_in_k_of_n_and_fewer_than_half_is_not_reached():
    # batch reaches 96% at epoch 2 in seeds 0-2 (2, 4, 6 s), never in seeds 3 and 4
    accs = [[90.0, 96.5]] * 3 + [[90.0, 95.0]] * 2
    comparison = Comparison(seeded("batch", accs, [1.0, 2.0, 3.0, 4.0, 5.0]), 96.0)
    batch = comparison.summaries()["batch"]
    assert (batch.k, batch.n, batch.reached) == (3, 5, True)
    assert batch.time == spread([2.0, 4.0, 6.0]) and batch.median_epoch == 2
    two_of_five = Comparison(seeded("batch", [*accs[1:], [90.0, 95.0]], [1.0] * 5), 96.0)
    summary = two_of_five.summaries()["batch"]
    assert (summary.k, summary.reached, summary.time, summary.median_epoch) == (
        2,
        False,
        None,
        None,
    )


def test_a_diverged_seed_counts_as_not_reaching_the_target():
    runs = seeded("sample", [96.5, 97.0], [1.0, 1.0], batch_size=1, lr=0.01)
    diverged = TrialRecord("sample", 0.01, 1, FINAL, DIVERGED, runs[1])
    comparison = Comparison(runs, 96.0, trials=[diverged])
    summary = comparison.summaries()["sample"]
    assert summary.hits[1] is None and (summary.k, summary.n) == (1, 2)
    assert summary.reached  # half of the seeds did
    entry = comparison.to_dict()["time_to_target"]["sample"]
    assert entry["per_seed"][1] is None and entry["diverged"] == 1
    assert comparison.to_dict()["final_acc"]["sample"]["n"] == 1  # the diverged one left out


def test_the_json_sums_each_label_up_over_its_seeds():
    batch = seeded("batch", [[92.0, 97.0, 96.5, 96.0], [92.0, 96.5, 96.8, 97.0]], [2.0, 3.0])
    epoch = seeded("epoch", [20.0, 37.0, 38.0, 39.0], [1.0, 1.0], batch_size=1000)
    data = Comparison(batch + epoch, 96.0).to_dict()
    assert data["schema_version"] == 4 and len(data["runs"]) == 4
    assert data["time_to_target"]["batch"] == {
        "reached": 2, "runs": 2, "diverged": 0,
        "seconds": {"median": 5.0, "low": 4.0, "high": 6.0, "interval": "min-max", "n": 2},
        "median_epoch": 2,
        "per_seed": [
            {"seed": 0, "seconds": 4.0, "updates": None, "samples": None, "epoch": 2},
            {"seed": 1, "seconds": 6.0, "updates": None, "samples": None, "epoch": 2},
        ],
    }  # fmt: skip
    assert data["time_to_target"]["epoch"]["seconds"] is None
    assert data["time_to_target"]["epoch"]["per_seed"] == [None, None]
    assert data["final_acc"]["batch"] == {
        "median": 96.5, "low": 96.0, "high": 97.0, "interval": "min-max", "n": 2
    }  # fmt: skip
    assert data["best_acc"]["batch"]["median"] == 97.0
    assert data["peaked_before_last"] == {"batch": 1, "epoch": 0}  # seed 0 fell after 97
    assert data["overfit_peak_epoch"] == {"batch": 2, "epoch": None}  # the first seed's


def test_reached_and_run_name_the_first_seed_and_runs_of_all():
    from mnist_rules.api.results import SweepResult

    runs = sized(1, [96.5], [2.0, 1.0, 3.0]) + sized(10, [90.0], [1.0, 1.0, 1.0])
    result = SweepResult(runs, 96.0, label=size_label)
    assert set(result.reached()) == {"1", "10"} and result.reached()["1"].seconds == 2.0
    assert result.run(1) is runs[0] and result.runs_of("1") == runs[:3]
    with pytest.raises(KeyError, match="the runs are '1', '10'"):
        result.runs_of(64)


def race(batch_seconds, sample_seconds, sample_accs=(96.8, 96.2)):
    """batch reaches 96% at epoch 2 (twice its epoch's seconds), sample at epoch 1 and
    then falls (it peaked before the last epoch)."""
    batch = seeded("batch", [92.0, 96.5], batch_seconds)
    sample = seeded("sample", list(sample_accs), sample_seconds, batch_size=1, lr=0.01)
    return Comparison(batch + sample, 96.0)


def test_the_verdict_says_when_the_lead_holds_seed_by_seed():
    from mnist_rules.report.verdict import verdict

    text = verdict(race([1.0, 1.1, 1.2, 1.3, 1.4], [5.0, 5.5, 6.0, 6.5, 7.0]))
    first = spread([2.0, 2.2, 2.4, 2.6, 2.8])
    assert text.startswith(
        "The batch rule reached 96% first: a median 2.40 s of training"
        f" [{first.low:.2f}{DASH}{first.high:.2f} s, bootstrap 95%], at epoch 2 (median), in 5"
        " of 5 seeds. That is 2.5x faster than the sample rule (median 6.00 s, at epoch 1)."
        " Against the sample rule, the runner-up, the batch rule was faster in 5 of 5 seeds;"
        " the intervals do not overlap."
    )
    assert "Test accuracy peaked before the last epoch in 5 of 5 seeds of the sample rule." in text


def test_the_verdict_says_when_the_seeds_cannot_tell_the_rules_apart():
    from mnist_rules.report.verdict import verdict

    text = verdict(race([1.0, 2.0, 1.5], [3.5, 1.8, 4.0]))  # batch: 2, 4 and 3 s
    assert (
        "Against the sample rule, the runner-up, the batch rule was faster in 2 of 3 seeds;"
        " the intervals overlap: indistinguishable at n = 3." in text
    )
    assert f"[2.00{DASH}4.00 s, min{DASH}max]" in text  # fewer than five: the range


def tuned(comparison, chosen, at_edge, grid=(0.01, 0.03, 0.1, 0.3)):
    trials = [TrialRecord(label, lr, 0, TUNE, REACHED, history("batch", [96.5], 2.5))
              for label in chosen for lr in grid]  # fmt: skip
    comparison.tuning = Tuning(list(grid), 0, chosen, at_edge, trials)
    return comparison


def test_the_sweep_verdict_flags_a_best_lr_at_the_grids_edge_and_the_tuning_cost():
    from mnist_rules.report.sweep_verdict import sweep_verdict

    runs = sized(1, [96.5], [1.0, 1.2, 1.1], lr=0.3) + sized(10, [96.5], [2.0, 2.1, 2.2])
    comparison = tuned(Comparison(runs, 96.0, label=size_label),
                       {"1": 0.3, "10": 0.1}, {"1": True, "10": False})  # fmt: skip
    paragraph, cost = sweep_verdict(comparison).split("\n")
    assert paragraph.startswith("Size 1 reached 96% soonest: a median 1.10 s of training")
    assert (
        "Tuned on seed 0 (0.01 to 0.3, 4 rates), the learning rate moved for size 1 from"
        " 0.01 to 0.3; size 10 kept its reference rate." in paragraph
    )
    assert paragraph.endswith("The best lr for size 1, 0.3, is the grid's largest: widen --lrs.")
    assert cost == "tuning: 8 trials, 20.0 s of training"


def test_the_compare_verdict_says_what_tuning_changed_with_one_seed_as_before():
    from mnist_rules.report.verdict import verdict

    comparison = tuned(race([1.0], [5.0]), {"batch": 0.1, "sample": 0.01},
                       {"batch": False, "sample": True})  # fmt: skip
    text = verdict(comparison)
    assert text.startswith("The batch rule reached 96% first: at epoch 2, after 2.0 s")
    assert (
        "the learning rate stayed at the reference for every rule. The best lr for the"
        " sample rule, 0.01, is the grid's smallest: widen --lrs.\ntuning: 8 trials" in text
    )


def test_the_summary_table_gives_medians_intervals_and_k_of_n():
    from mnist_rules.report.compare_tables import summary_table

    comparison = race([1.0, 1.1, 1.2, 1.3, 1.4], [5.0, 5.5, 6.0, 6.5, 7.0])
    tuned(comparison, {"batch": 0.1, "sample": 0.01}, {"batch": False, "sample": True})
    text = table_text(summary_table(comparison))
    time = spread([2.0, 2.2, 2.4, 2.6, 2.8])
    # rule, lr, per update, updates/epoch, median s/epoch, peak MiB, final, best, peaked,
    # reached, at epoch, seconds to the target
    assert cells(text, "batch") == [
        "batch", "0.1 †", "100", "10", "1.20", "—", "96.50", "96.50", "0/5", "5/5", "2",
        f"2.40 [{time.low:.2f}{DASH}{time.high:.2f}]",
    ]  # fmt: skip
    assert cells(text, "sample")[1] == "0.01 † (edge)" and cells(text, "sample")[8] == "5/5"
    caption = " ".join(text.split())
    assert "95% bootstrap interval of the median" in caption and f"min{DASH}max range" in caption
    assert "† lr tuned: the best of 0.01, 0.03, 0.1, 0.3 on seed 0." in caption


def test_one_seed_tables_stay_as_they_were_but_for_the_tuning_marks():
    from mnist_rules.report.compare_tables import summary_table

    comparison = tuned(race([1.0], [5.0]), {"batch": 0.1, "sample": 0.01},
                       {"batch": False, "sample": True})  # fmt: skip
    text = table_text(summary_table(comparison))
    assert cells(text, "batch")[1:2] + cells(text, "batch")[-2:] == ["0.1 †", "2", "2.0"]
    assert "[" not in text and "bootstrap" not in text


def test_the_sweep_table_over_seeds():
    from mnist_rules.report.sweep_tables import sweep_table

    runs = sized(1, [96.5], [1.0, 1.2, 1.1]) + sized(N, [50.0], [0.5, 0.5, 0.5])
    text = table_text(sweep_table(Comparison(runs, 96.0, label=size_label)))
    assert cells(text, "1")[-4:] == ["0/3", "3/3", "1", f"1.10 [1.00{DASH}1.20]"]
    assert cells(text, "300 (all)")[-4:] == ["0/3", "0/3", "not reached", "—"]


def with_evaluations(runs):
    """Two readings an epoch, the first half an epoch in, a point below the epoch's."""
    for run in runs:
        spent = 0.0
        for e in run.epochs:
            half = e.train_seconds / 2
            run.evaluations.append(Evaluation(e.epoch, 0, 0, spent + half, e.test_acc - 1.0))
            run.evaluations.append(Evaluation(e.epoch, 0, 0, spent + 2 * half, e.test_acc))
            spent += e.train_seconds
    return runs


def test_the_figure_draws_each_labels_median_with_a_band_over_its_seeds():
    from mnist_rules.report.plots import comparison_figure

    batch = with_evaluations(seeded("batch", [[92.0, 96.5], [93.0, 97.0], [91.0, 96.2]],
                                    [1.0, 2.0, 3.0]))  # fmt: skip
    epoch = seeded("epoch", [20.0, 37.0], [1.0], batch_size=1000)  # one seed: as before
    fig = comparison_figure(Comparison(batch + epoch, 96.0))
    loss_ax, acc_ax, time_ax = fig.axes
    for ax in (loss_ax, acc_ax, time_ax):
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # batch's band
    band = next(c for c in acc_ax.collections if isinstance(c, PolyCollection))
    ys = band.get_paths()[0].vertices[:, 1]
    assert min(ys) == pytest.approx(91.0) and max(ys) == pytest.approx(97.0)
    median = next(line for line in acc_ax.lines if list(line.get_ydata()) == [92.0, 96.5])
    assert median.get_color() == "tab:orange"
    # against time, at the readings: the median of each reading's seconds and accuracy
    at_readings = next(line for line in time_ax.lines if len(line.get_xdata()) == 4)
    assert list(at_readings.get_xdata()) == [1.0, 2.0, 3.0, 4.0]
    assert list(at_readings.get_ydata()) == [91.0, 92.0, 95.5, 96.5]
    assert "96% after 3 s (median, 3/3 seeds)" in [t.get_text() for t in time_ax.texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert (
        legend[0] == f"batch: lr 0.1, 100 samples per update; median of 3 seeds, band min{DASH}max"
    )
    assert legend[1] == "epoch: lr 0.1, 1,000 samples per update"
    assert fig.get_suptitle().endswith("seeds 0, 1, 2)")


def test_the_sweep_figure_has_error_bars_and_bands_over_seeds():
    from mnist_rules.report.sweep_plot import sweep_figure

    runs = sized(1, [96.5], [1.0, 1.2, 1.1]) + sized(10, [96.5], [2.0, 2.1, 2.2])
    fig = sweep_figure(Comparison(runs, 96.0, label=size_label))
    cost_ax, time_ax = fig.axes
    points = next(line for line in cost_ax.lines if line.get_label() == "reached (median)")
    assert list(points.get_ydata()) == [1.1, 2.1]
    assert any(c.get_label().startswith("interval (") for c in cost_ax.containers)
    assert sum(isinstance(c, PolyCollection) for c in time_ax.collections) == 2
