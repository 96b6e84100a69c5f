"""compare's and sweep's grid (mnist_rules.grid): the protocol that picks each arm's
learning rate, the pruner that never changes the pick, Optuna's study held in memory
or in SQLite (resumed, refused for another configuration), and the options' errors."""

import hashlib
import json
import math

import pytest

from cli_runner import assert_clean_failure, invoke
from histories import history
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.grid import points
from mnist_rules.grid.records import DIVERGED, FINAL, FINISHED, PRUNED, REACHED, TUNE, TrialRecord
from mnist_rules.grid.run import Arm, Grid
from mnist_rules.training.results import Evaluation


def record(lr, status, target_samples=None, final_acc=50.0, label="10"):
    run = history("batch", [final_acc])
    run.evaluations = [Evaluation(1, 10, 1000, 1.0, final_acc)]
    hit = None if target_samples is None else Evaluation(1, 5, target_samples, 0.5, 97.0)
    return TrialRecord(label, lr, 0, TUNE, status, run, hit)


def test_the_best_lr_is_the_fewest_samples_to_the_target():
    trials = [record(0.01, FINISHED, final_acc=95.0), record(0.1, REACHED, 600),
              record(0.3, REACHED, 400), record(1.0, DIVERGED)]  # fmt: skip
    assert points.choose_lr(trials) == 0.3


def test_without_a_hit_the_best_final_accuracy_wins_and_diverged_come_last():
    trials = [record(1.0, DIVERGED), record(0.01, FINISHED, final_acc=90.0),
              record(0.03, FINISHED, final_acc=93.0),
              record(0.1, PRUNED, final_acc=91.0)]  # fmt: skip
    assert points.choose_lr(trials) == 0.03
    assert points.choose_lr([record(1.0, DIVERGED), record(0.3, DIVERGED)]) == 0.3


def test_a_tie_goes_to_the_smaller_lr_and_the_edges_are_flagged():
    assert points.choose_lr([record(0.3, REACHED, 400), record(0.1, REACHED, 400)]) == 0.1
    grid = [0.01, 0.1, 1.0]
    assert points.at_edge(0.01, grid) and points.at_edge(1.0, grid)
    assert not points.at_edge(0.1, grid) and not points.at_edge(0.1, [0.1])


def test_the_points_are_every_lr_on_the_first_seed_then_the_chosen_on_every_seed():
    tune = points.tune_points(["1", "10"], [0.01, 0.1], seed=3)
    assert [(p.label, p.lr, p.seed, p.phase) for p in tune] == [
        ("1", 0.01, 3, TUNE), ("1", 0.1, 3, TUNE), ("10", 0.01, 3, TUNE), ("10", 0.1, 3, TUNE),
    ]  # fmt: skip
    final = points.final_points({"1": 0.01, "10": 0.1}, [3, 4])
    assert [p.key for p in final] == [("1", 0.01, 3, FINAL), ("1", 0.01, 4, FINAL),
                                      ("10", 0.1, 3, FINAL), ("10", 0.1, 4, FINAL)]  # fmt: skip


def arm(b, epochs=3, evals=2):
    def config(lr, seed):
        return TrainConfig(rule="batch", batch_size=b, lr=lr, seed=seed, epochs=epochs,
                           evals_per_epoch=evals, device="cpu", step_mode="eager")  # fmt: skip

    return Arm(str(b), 0.1, config)


def test_a_grid_in_memory_tunes_each_arm_then_reruns_it_on_every_seed(tiny_data):
    grid = Grid([arm(10), arm(50)], [0, 1], 60.0, lrs=[0.03, 0.1, 0.3, 30.0],
                configuration={"command": "test"})  # fmt: skip
    finals, tuning = grid.run(tiny_data)
    assert len(tuning.trials) == 8 and {t.phase for t in tuning.trials} == {TUNE}
    by = {(t.label, t.lr): t for t in tuning.trials}
    assert by[("10", 30.0)].status == DIVERGED  # recorded, not raised
    for t in tuning.trials:  # each tuning trial stopped at its first reading at the target
        if t.status == REACHED:
            assert t.run.evaluations[-1] == t.target and t.target.test_acc >= 60.0
            assert t.run.stopped_early == "target"
    for label in ("10", "50"):
        ranked = [t for t in tuning.trials if t.label == label]
        assert tuning.chosen[label] == points.choose_lr(ranked)
        assert tuning.at_edge[label] == (tuning.chosen[label] in (0.03, 30.0))
    assert [(f.label, f.seed, f.phase) for f in finals] == [
        ("10", 0, FINAL), ("10", 1, FINAL), ("50", 0, FINAL), ("50", 1, FINAL)]  # fmt: skip
    for f in finals:  # every epoch, every reading, at the chosen lr
        assert f.lr == tuning.chosen[f.label] and len(f.run.epochs) == 3
        assert len(f.run.evaluations) == 6 and f.run.seed == f.seed
    # The same seed starts every arm from the same weights: seed 0's two arms differ
    # only by their size, so their first readings differ, but each rerun of seed 0 at
    # the chosen lr repeats its tuning trial's readings up to where that one stopped.
    for f in (f for f in finals if f.seed == 0):
        tuned = by[(f.label, f.lr)]
        n = len(tuned.run.evaluations)
        assert [e.test_acc for e in f.run.evaluations[:n]] == [
            e.test_acc for e in tuned.run.evaluations
        ]


def test_without_lrs_each_arm_runs_its_reference_lr(tiny_data):
    finals, tuning = Grid([arm(50, epochs=1)], [0, 2], 99.0).run(tiny_data)
    assert tuning is None and [(f.lr, f.seed) for f in finals] == [(0.1, 0), (0.1, 2)]


def test_the_pruner_gives_up_once_past_the_samples_the_best_needed(tiny_data):
    """The grid runs the lrs in the order given. lr 0.3 reaches 60% sooner than 0.03:
    run after it, 0.03 is pruned at its first reading past the samples 0.3 needed; run
    before it, 0.03 trains to the target. The choice is the same either way."""
    pruned = Grid([arm(50, evals=4)], [0], 60.0, lrs=[0.3, 0.03]).run(tiny_data)[1]
    full = Grid([arm(50, evals=4)], [0], 60.0, lrs=[0.03, 0.3]).run(tiny_data)[1]
    fast, slow = pruned.trials
    assert fast.status == REACHED and slow.status == PRUNED
    assert slow.run.stopped_early == "pruned" and slow.target is None
    assert slow.run.evaluations[-1].samples >= fast.target.samples
    assert slow.run.evaluations[-2].samples < fast.target.samples
    assert [t.status for t in full.trials] == [REACHED, REACHED]
    assert pruned.chosen == full.chosen == {"50": 0.3}


def sqlite(tmp_path, name="grid.db"):
    return f"sqlite:///{tmp_path / name}"


def test_a_grid_in_sqlite_is_resumed_without_training_again(tiny_data, tmp_path, monkeypatch):
    config = {"command": "test", "sizes": [50]}
    first = Grid([arm(50, epochs=1)], [0, 1], 60.0, [0.03, 0.3], sqlite(tmp_path), config)
    finals, tuning = first.run(tiny_data)
    import mnist_rules.grid.trial as trial_module

    def no_training(*args, **kwargs):
        raise AssertionError("a finished trial was trained again")

    monkeypatch.setattr(trial_module, "train", no_training)
    again = Grid([arm(50, epochs=1)], [0, 1], 60.0, [0.03, 0.3], sqlite(tmp_path), config)
    finals2, tuning2 = again.run(tiny_data)
    assert [f.to_dict() for f in finals2] == [f.to_dict() for f in finals]
    assert tuning2.to_dict() == tuning.to_dict()


def test_a_storage_holding_another_configuration_is_refused_and_left_as_it_was(tiny_data, tmp_path):
    db = tmp_path / "grid.db"
    Grid(
        [arm(50, epochs=1)], [0], 60.0, None, sqlite(tmp_path), {"command": "test", "epochs": 1}
    ).run(tiny_data)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    other = Grid(
        [arm(50, epochs=2)], [0], 60.0, None, sqlite(tmp_path), {"command": "test", "epochs": 2}
    )
    from mnist_rules.errors import UsageError

    with pytest.raises(UsageError, match="holds the grid of another configuration") as caught:
        other.run(tiny_data)
    assert "epochs 1 there, 2 here" in str(caught.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def sweep_args(tiny_root, *extra):
    return ["sweep", "--sizes", "10,50", "--epochs", "1", "--device", "cpu", "--data-dir",
            tiny_root, "--target-acc", "60", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "value", "phrase"),
    [
        ("--seeds", "", "give seeds separated by commas"),
        ("--seeds", "0,1,0", "each seed may be named once"),
        ("--seeds", "0,-1", "a seed must be 0 or more"),
        ("--seeds", "a,b", "seeds are whole numbers"),
        ("--seeds", "0", "give at least one seed"),
        ("--lrs", "0.1,0", "a learning rate must be a finite number above 0"),
        ("--lrs", "0.1,-3", "a learning rate must be a finite number above 0"),
        ("--lrs", "0.1,fast", "'fast' is not a number"),
        ("--lrs", "0.1,0.1", "each learning rate may be named once"),
        ("--lrs", "", "give learning rates separated by commas"),
        ("--evals-per-epoch", "0", "--evals-per-epoch"),
        ("--storage", "nosuchdb://x", "--storage nosuchdb://x cannot be opened"),
    ],
)
def test_bad_grid_options_get_one_clear_error(tiny_root, option, value, phrase):
    result = invoke(*sweep_args(tiny_root, option, value))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and phrase in result.output


def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_was(tiny_root, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    result = invoke(*sweep_args(tiny_root, "--storage", f"sqlite:///{notes}"))
    assert_clean_failure(result, 2, f"--storage sqlite:///{notes} cannot be opened")
    assert notes.read_text() == "not a database\n" * 100


def test_lrs_and_tune_lr_and_a_fixed_lr_do_not_go_together(tiny_root):
    both = invoke(*sweep_args(tiny_root, "--lrs", "0.1", "--tune-lr"))
    assert both.exit_code == 2 and "--lrs and --tune-lr" in both.output
    fixed = invoke(*sweep_args(tiny_root, "--lrs", "0.1,0.3", "--lr", "0.1"))
    assert fixed.exit_code == 2 and "--lr and --lrs both set a learning rate" in fixed.output


def test_sweep_records_every_trial_with_its_evaluations(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = invoke(*sweep_args(tiny_root, "--lrs", "0.03,0.3", "--seeds", "2",
                                "--evals-per-epoch", "2", "--json", out))  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    trials = data["trials"]
    keys = {(t["label"], t["lr"], t["seed"], t["phase"]) for t in trials}
    assert {k for k in keys if k[3] == TUNE} == {
        (s, lr, 0, TUNE) for s in ("10", "50") for lr in (0.03, 0.3)}  # fmt: skip
    chosen = data["tuning"]["chosen"]
    assert {k for k in keys if k[3] == FINAL} == {
        (s, chosen[s], seed, FINAL) for s in ("10", "50") for seed in (0, 1)}  # fmt: skip
    for t in trials:
        assert t["run"]["evaluations"], t
        assert set(t["run"]["evaluations"][0]) == {"epoch", "updates", "samples",
                                                   "train_seconds", "test_acc"}  # fmt: skip
    assert len(data["runs"]) == 4 and data["tuning"]["seconds"] > 0
    assert not math.isnan(data["tuning"]["seconds"])


def test_without_optuna_compare_and_sweep_say_how_to_install_it(tiny_root, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "optuna" else real(name, *a))  # fmt: skip
    for command in ("compare", "sweep"):
        result = invoke(command, "--epochs", "1", "--device", "cpu", "--data-dir", tiny_root)
        assert_clean_failure(result, 1, "pip install optuna")
