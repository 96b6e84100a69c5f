"""The grid in SQLite, across processes: a sweep stopped by Ctrl-C or killed mid-grid,
then run again, ends as an uninterrupted one does (timings aside), and two workers on
one storage share the grid, each trial run once."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from mnist_rules.grid.study import GRACE_SECONDS


def command(tiny_root, storage, out):
    return [sys.executable, "-m", "mnist_rules", "sweep", "--sizes", "10,50", "--epochs",
            "2", "--lrs", "0.03,0.1,0.3", "--seeds", "0,1", "--evals-per-epoch", "4",
            "--target-acc", "60", "--device", "cpu", "--data-dir", str(tiny_root),
            "--storage", f"sqlite:///{storage}", "--json", str(out)]  # fmt: skip


def trial_line(line: str) -> bool:
    """A finished trial's line ("tuning  size 10  lr 0.1 ..."), not the tuning's sum."""
    return re.match(r"\s*(tuning|final)\s+size", line) is not None


def run(args, timeout=300):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def stop_after_trials(args, trials: int, sig) -> subprocess.CompletedProcess:
    """Start the sweep and send `sig` once `trials` trial lines have been printed."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = 0
        for line in proc.stdout:
            seen += trial_line(line)
            if seen == trials:
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def without_timings(data):
    """The grid's outcome with every clock reading left out."""

    def trial(t):
        run = t["run"]
        readings = [(e["epoch"], e["updates"], e["samples"], e["test_acc"])
                    for e in run["evaluations"]]  # fmt: skip
        epochs = [(e["train_loss"], e["test_acc"], e["updates"]) for e in run["epochs"]]
        return (t["label"], t["lr"], t["seed"], t["phase"], t["status"], readings, epochs)

    tuning = {k: v for k, v in data["tuning"].items() if k not in ("trials", "seconds")}
    return sorted(trial(t) for t in data["trials"]), tuning


@pytest.fixture(scope="module")
def uninterrupted(tiny_root, tmp_path_factory):
    where = tmp_path_factory.mktemp("whole")
    run(command(tiny_root, where / "g.db", where / "g.json"))
    return json.loads((where / "g.json").read_text())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_grid_stopped_mid_way_then_rerun_ends_as_an_uninterrupted_one(
    tiny_root, tmp_path, uninterrupted, sig
):
    storage, out = tmp_path / "g.db", tmp_path / "g.json"
    args = command(tiny_root, storage, out)
    stopped = stop_after_trials(args, 3, sig)
    if sig == signal.SIGINT:
        assert stopped.returncode == 130, stopped.stderr
        assert "run the same command to go on" in stopped.stderr
    else:
        assert stopped.returncode == -signal.SIGKILL
    assert not out.exists()  # nothing half-written
    start = time.monotonic()
    again = run(args, timeout=300 + GRACE_SECONDS)
    assert "resuming the grid: " in again.stdout
    if sig == signal.SIGKILL:  # the killed trial is failed once its heartbeat is stale
        assert time.monotonic() - start < 120
    assert without_timings(json.loads(out.read_text())) == without_timings(uninterrupted)
    # Each trial of the grid finished once: the interrupted one failed, then ran again.
    names = optuna.study.get_all_study_names(f"sqlite:///{storage}")
    trials = optuna.load_study(study_name=names[0], storage=f"sqlite:///{storage}").trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    keys = [tuple(t.params.values()) for t in finished]
    assert len(keys) == len(set(keys)) == len(uninterrupted["trials"])
    assert sum(t.state == TrialState.FAIL for t in trials) == 1


def test_two_workers_on_one_storage_share_the_grid(tiny_root, tmp_path, uninterrupted):
    storage = tmp_path / "g.db"
    procs = [
        subprocess.Popen(command(tiny_root, storage, tmp_path / f"w{i}.json"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err
    ran = [sum(trial_line(line) for line in out.splitlines()) for out, _ in outputs]
    names = optuna.study.get_all_study_names(f"sqlite:///{storage}")
    trials = optuna.load_study(study_name=names[0], storage=f"sqlite:///{storage}").trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    keys = [tuple(t.params.values()) for t in finished]
    assert len(keys) == len(set(keys)) == len(uninterrupted["trials"]) == sum(ran)
    # Both end with the whole grid's result. Which worker ran which trial changed the
    # order, and so which slow tuning trials the pruner gave up on; not the choice.
    results = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    for data in results:
        assert data["tuning"]["chosen"] == uninterrupted["tuning"]["chosen"]
        finals = [t for t in without_timings(data)[0] if t[3] == "final"]
        assert finals == [t for t in without_timings(uninterrupted)[0] if t[3] == "final"]
