"""bench/gpu_check.py, the one command for every CUDA figure: without a GPU it says so
in one line and exits 0; with one, its sections read what the tool writes. The
sections' parsing is checked here against the tool's real output on the CPU (the
first GPU run must not be the first time it meets a results file)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import invoke

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import gpu_check  # noqa: E402


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(tmp_path):
    out = tmp_path / "report.md"
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}  # none, even on a GPU host
    done = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check.py"), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip().splitlines() == [done.stdout.strip()] and "no CUDA GPU" in done.stdout
    )
    assert not out.exists()


def test_the_real_mnist_section_reads_the_results_the_tool_writes(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "DEVICE", "cpu")
    monkeypatch.setattr(
        gpu_check, "REAL_RUNS", [("batch", "tuned", "auto"), ("epoch", "torch", "eager")]
    )
    body = gpu_check.real_mnist(gpu_check.Budget(300), tiny_root, tmp_path)
    rows = [
        line
        for line in body.splitlines()
        if line.startswith("| batch") or line.startswith("| epoch")
    ]
    assert len(rows) == 2, body
    assert all("%" in row and "ok in" in row for row in rows), body
    assert "Skipped" in gpu_check.real_mnist(gpu_check.Budget(60), None, tmp_path)


def test_a_failed_run_is_reported_with_its_output(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "DEVICE", "cpu")
    monkeypatch.setattr(gpu_check, "REAL_RUNS", [("batch", "tuned", "auto")])
    body = gpu_check.real_mnist(gpu_check.Budget(60), tmp_path / "nowhere", tmp_path)
    assert "**failed** (exit 1)" in body and "error: MNIST is not in" in body


def test_the_profile_table_reads_a_profile_the_tool_writes(tiny_root, tmp_path):
    out = tmp_path / "p.json"
    result = invoke("profile", "--steps", "20", "--data-dir", tiny_root, "--json", out)
    assert result.exit_code == 0, result.output
    text = gpu_check.profile_table(json.loads(out.read_text()))
    row = text.splitlines()[2].split(" | ")
    assert row[0] == "| tuned" and row[2] == "none"  # a CPU makes no copies


def test_benchmarks_are_tabled_and_the_fastest_tuned_mode_named():
    def bench(engine, mode, rule, median, group="epoch: rule="):
        params = {"engine": engine, "mode": mode, "rule": rule, "device": "cuda"}
        return {
            "group": group + rule, "name": f"test_epoch[{rule}-{engine}-{mode}-cuda]",
            "params": params, "stats": {"min": median * 0.9, "median": median, "rounds": 5},
            "extra_info": {"us_per_update": 12.5},
        }  # fmt: skip

    report = {
        "benchmarks": [
            bench("torch", "eager", "sample", 9.0),
            bench("tuned", "eager", "sample", 2.0),
            bench("tuned", "kernel", "sample", 0.3),
            bench("tuned", "graph", "batch", 0.05),
            bench("tuned", "eager", "batch", 0.08),
            bench("tuned", "eager", "batch", 0.01, group="step: rule="),  # not an epoch
        ]
    }
    text = gpu_check.benchmark_table(report)
    assert text.count("\n") == 2 + 6 and "sample-tuned-kernel-cuda" in text
    assert gpu_check.fastest_modes(report) == (
        "Fastest tuned step mode per rule (epoch medians):"
        " batch: graph (50.000 ms), sample: kernel (300.0 ms).\n"
    )
    assert gpu_check.benchmark_table({}) == "No CUDA benchmark ran.\n"


def test_a_section_out_of_time_is_reported_not_lost(tmp_path):
    ran = gpu_check.run(
        [sys.executable, "-c", "import time; print('begun', flush=True); time.sleep(30)"], 1.0
    )
    assert ran.returncode is None and "ran out of time" in gpu_check.outcome(ran)
    assert gpu_check.run(["true"], 0).output == "(no time left in the budget)"


def test_the_report_is_whole_after_each_section(tmp_path):
    out = tmp_path / "r.md"
    report = gpu_check.Report(out, pending=["tests", "benchmarks"])
    report.add("tests", "all passed")
    text = out.read_text()
    assert (
        "## tests\n\nall passed" in text and "Not run (the check stopped first): benchmarks" in text
    )
    report.add("benchmarks", "none")
    assert "Not run" not in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]  # no temporary file left


@pytest.mark.parametrize(("files", "found"), [((), False), (("train-images-idx3-ubyte.gz",), True)])
def test_real_mnist_is_found_as_raw_or_gz(tmp_path, files, found):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in files:
        (raw / name).write_bytes(b"")
    assert gpu_check.has_mnist(tmp_path) is found


def test_the_benchmark_section_merges_its_runs_and_reads_their_ratios(tmp_path, monkeypatch):
    """Run on the CPU, one small benchmark: its figures reach the table, and a run that
    selects nothing is reported as failed without losing the other's."""
    runs = [("eager", "test_step and batch and tuned-eager-cpu"), ("none", "no-such-case")]
    monkeypatch.setattr(gpu_check, "BENCH_RUNS", runs)
    body = gpu_check.benchmarks(gpu_check.Budget(600), tmp_path)
    assert "- eager: " in body and "ok in" in body
    assert "- none: " in body and "**failed** (exit 5)" in body  # pytest: nothing collected
    assert "| step: rule=batch | batch-tuned-eager-cpu |" in body
    assert "`python bench/speedups.py`" in body


def test_a_sections_runs_share_its_cap_not_each_take_it(tmp_path, monkeypatch):
    """Eight real-MNIST runs in a 120 s cap, each running out of time (a clock that
    advances by each run's timeout): together they take the cap, not 8 x 120 s."""
    clock = [1000.0]
    given = []

    def fake_run(args, timeout, env=None):
        given.append(timeout)
        clock[0] += timeout  # it used all the time it was given
        return gpu_check.Ran("train", None, "", timeout)

    monkeypatch.setattr(gpu_check.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gpu_check, "run", fake_run)
    monkeypatch.setitem(gpu_check.CAPS, "real MNIST", 120)
    gpu_check.real_mnist(gpu_check.Budget(480), tmp_path, tmp_path)
    assert len(given) == len(gpu_check.REAL_RUNS)
    assert given[0] == pytest.approx(120 / 8) and sum(given) == pytest.approx(120)
