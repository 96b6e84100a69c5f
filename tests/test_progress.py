"""The live progress of several runs (compare): an epoch task and one for the whole job."""

import io

from rich.console import Console

from histories import history
from mnist_rules.report.progress import RichReporter


def test_overall_task_counts_epochs_across_runs_and_names_the_rule_running():
    console = Console(file=io.StringIO(), force_terminal=True, color_system=None, width=150)
    runs = [history("batch", [90.0, 95.0]), history("sample", [96.0, 97.0])]
    with RichReporter(epochs=2, console=console, runs=2) as reporter:
        overall = reporter.progress.tasks[0]
        for i, run in enumerate(runs):
            reporter.start_run(run, updates_per_epoch=10)
            assert overall.description == f"run {i + 1}/2 ({run.rule})"
            for epoch in run.epochs:
                reporter.start_epoch(epoch.epoch, 1000, 10)
                reporter.advance(500, 5, lambda: 0.5)
                assert (
                    "500/1,000 samples · 5/10 updates · loss 0.5000"
                    in (reporter.progress.tasks[-1].fields["detail"])
                )
                reporter.end_epoch(epoch)
        assert overall.completed == overall.total == 4
        assert len(reporter.progress.tasks) == 1  # finished epoch tasks are removed
    lines = console.file.getvalue()
    assert "batch rule,  epoch 2/2" in lines and "sample rule, epoch 1/2" in lines


def test_a_single_run_has_no_overall_task_and_no_label():
    console = Console(file=io.StringIO(), force_terminal=True, color_system=None, width=150)
    with RichReporter(epochs=1, console=console) as reporter:
        run = history("epoch", [20.0])
        reporter.start_run(run, updates_per_epoch=1)
        reporter.start_epoch(1, 1000, 1)
        reporter.end_epoch(run.epochs[0])
        assert reporter.progress.tasks == []
    out = console.file.getvalue()
    assert "epoch 1/1  train loss" in out and "rule, epoch" not in out
