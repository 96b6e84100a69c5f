"""bench/gpu_check.py, the one command for every CUDA figure: without a GPU it says so
in one line and exits 0; with one, its sections read what the tool writes. The
sections' parsing is checked here against the tool's real output on the CPU (the
first GPU run must not be the first time it meets a results file)."""

import json
import subprocess
import sys
import time
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
        gpu_check, "REAL_RUNS", [("batch", "tuned", "auto", None), ("epoch", "torch", "eager", 300)]
    )
    body = gpu_check.real_mnist(gpu_check.Budget(300), tiny_root, tmp_path)
    rows = [
        line
        for line in body.splitlines()
        if line.startswith("| batch") or line.startswith("| epoch")
    ]
    assert len(rows) == 2, body
    assert all("%" in row and "ok in" in row for row in rows), body
    assert "| 512 |" in rows[0] and "| 300 |" in rows[1]  # the images each trained on
    assert "Skipped" in gpu_check.real_mnist(gpu_check.Budget(60), None, tmp_path)


def test_the_schedules_section_reads_the_epoch_and_the_sweep_the_tool_writes(
    tiny_root, tmp_path, monkeypatch
):
    """On the CPU the kernel mode is numba's (the schedule variable is read and has no
    effect): the figures are parsed from the tool's real files, a sweep's model too."""
    monkeypatch.setattr(gpu_check, "DEVICE", "cpu")
    monkeypatch.setattr(gpu_check, "SWEEP_SIZES", "2,8,32")
    monkeypatch.setattr(
        gpu_check, "SCHEDULE_RUNS", [("epoch", "persistent", 1), ("sweep", "two-launch", 1)]
    )
    body = gpu_check.schedules(gpu_check.Budget(300), tiny_root, tmp_path)
    epoch = next(line for line in body.splitlines() if line.startswith("| persistent"))
    sweep = next(line for line in body.splitlines() if line.startswith("| two-launch"))
    cells = [c.strip() for c in epoch.strip("|").split("|")]
    assert cells[1] == "kernel" and cells[2].endswith("%") and float(cells[4]) > 0, body
    assert "ok in" in epoch and "ok in" in sweep, body
    t0, c = (c.strip() for c in sweep.strip("|").split("|")[1:3])
    assert float(c) > 0 and t0, body  # the cost fit's figures, in µs


def test_a_failed_schedules_run_keeps_its_row_whole_and_reports_its_output(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "DEVICE", "cpu")
    monkeypatch.setattr(gpu_check, "SCHEDULE_RUNS", [("epoch", "persistent", 1)])
    body = gpu_check.schedules(gpu_check.Budget(60), tmp_path / "nowhere", tmp_path)
    row = next(line for line in body.splitlines() if line.startswith("| persistent"))
    assert row.count("|") == 9 and "**failed** (exit 1)" in row, body  # eight cells
    assert "MNIST_RULES_TRITON_SCHEDULE=persistent" in body and "MNIST is not in" in body


def test_a_failed_run_is_reported_with_its_output(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "DEVICE", "cpu")
    monkeypatch.setattr(gpu_check, "REAL_RUNS", [("batch", "tuned", "auto", None)])
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
    runs = [("eager", "test_step and batch and tuned-eager-cpu", 1), ("none", "no-such-case", 1)]
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


def test_children_run_without_triton_interpret_and_the_report_says_it_was_set(monkeypatch):
    """A TRITON_INTERPRET=1 left in the shell would put Triton's interpreter on the GPU's
    tensors in every child (hours an epoch)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    code = "import os; print(os.environ.get('TRITON_INTERPRET', 'unset'))"
    ran = gpu_check.run([sys.executable, "-c", code], 30)
    assert ran.output.strip() == "unset"
    assert "TRITON_INTERPRET=1 was set here" in gpu_check.dropped_variables()
    monkeypatch.delenv("TRITON_INTERPRET")
    assert gpu_check.dropped_variables() == ""


def test_a_child_killed_at_its_timeout_still_reports_what_it_printed_unflushed():
    code = "import time; print('begun'); time.sleep(30)"  # no flush: unbuffered by run()
    ran = gpu_check.run([sys.executable, "-c", code], 2.0)
    assert ran.returncode is None and "begun" in ran.output


def test_missing_packages_are_listed_one_line_each_not_a_crash(monkeypatch):
    monkeypatch.setitem(gpu_check.PACKAGES, "no_such_package_here", "a test")
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # as on the GPU machine
    found, missing = gpu_check.packages()
    assert "torch" in found and "pytest" in found
    assert {"no_such_package_here", "platformdirs"} <= set(missing)
    assert missing["no_such_package_here"].startswith("needed by a test: ModuleNotFoundError")


def test_the_test_sections_run_triton_first_and_leave_torch_compile_to_the_benchmarks():
    assert list(gpu_check.TEST_SECTIONS) == ["Triton tests", "CUDA tests"]
    assert list(gpu_check.CAPS)[:2] == ["Triton tests", "CUDA tests"]
    triton, cuda = (gpu_check.pytest_command(s) for s in gpu_check.TEST_SECTIONS)
    marks = lambda args: args[len(args) - 1 - args[::-1].index("-m") + 1]  # noqa: E731
    assert marks(triton) == "triton or sm90" and marks(cuda) == "cuda and not torch_compile"
    assert "-v" in cuda and "-q" not in cuda
    if gpu_check.has_pytest_timeout():  # a dev dependency: installed wherever tests run
        assert f"--timeout={gpu_check.TEST_TIMEOUT}" in cuda


def test_torch_compiles_cuda_cases_carry_the_marker_the_check_leaves_out():
    """The -m expression only works if the compile-mode cases are marked."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_cuda.py", "--collect-only", "-q",
         "-m", "torch_compile", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=BENCH.parent, timeout=120,
    )  # fmt: skip
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(ids) == 3 and all("compile" in i for i in ids), done.stdout


def test_the_whole_check_fits_its_default_budget_when_every_run_takes_all_it_is_given(
    tmp_path, monkeypatch
):
    """Every child (tests, trainings, benchmarks, the ratios) runs out of time, on a
    clock that advances by each run's timeout: the check still ends within --budget."""
    clock = [1000.0]
    given = []

    def fake_run(args, timeout, env=None):
        given.append((" ".join(args), timeout))
        clock[0] += max(timeout, 0)
        for arg in args:  # a benchmark run leaves its JSON, so that the ratios run too
            if arg.startswith("--benchmark-json="):
                Path(arg.split("=", 1)[1]).write_text('{"benchmarks": [{"group": "g"}]}')
        return gpu_check.Ran(" ".join(args), None, "", max(timeout, 0))

    monkeypatch.setattr(gpu_check.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gpu_check, "run", fake_run)
    monkeypatch.setattr(gpu_check, "environment", lambda: "")
    monkeypatch.setattr(gpu_check, "benchmark_table", lambda report: "")
    monkeypatch.setattr(gpu_check, "fastest_modes", lambda report: "")
    monkeypatch.setattr(gpu_check, "has_mnist", lambda root: True)
    default = gpu_check.main.__defaults__[2].default
    assert default == 540
    gpu_check.check(tmp_path / "r.md", tmp_path, default)
    assert clock[0] - 1000.0 <= default
    ratios = [timeout for command, timeout in given if "bench/speedups.py" in command]
    assert ratios and 0 < ratios[0] <= gpu_check.SPEEDUPS_SECONDS  # the ratios ran, in budget
    assert "ran out of time" in (tmp_path / "r.md").read_text()


def test_time_a_section_or_a_run_leaves_goes_to_the_ones_after_it(tmp_path, monkeypatch):
    """Every child takes a second of what it is given: each run after it is given what
    the ones before left (on the H200, sections ended with time to spare while the runs
    after them ran out of it), and the whole check still ends within --budget."""
    clock = [1000.0]
    given = []

    def fake_run(args, timeout, env=None):
        given.append((" ".join(args), timeout))
        clock[0] += 1
        return gpu_check.Ran(" ".join(args), 0, "", 1.0)

    monkeypatch.setattr(gpu_check.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gpu_check, "run", fake_run)
    monkeypatch.setattr(gpu_check, "environment", lambda: "")
    monkeypatch.setattr(gpu_check, "has_mnist", lambda root: True)
    gpu_check.check(tmp_path / "r.md", tmp_path, 420)
    caps, timeouts = gpu_check.CAPS, [timeout for _, timeout in given]
    assert timeouts[:2] == [caps["Triton tests"], caps["Triton tests"] - 1 + caps["CUDA tests"]]
    real = [timeout for command, timeout in given if "/train-" in command]
    assert len(real) == len(gpu_check.REAL_RUNS) and real == sorted(real)
    assert real[0] > caps["real MNIST"] / len(real)  # what the tests left, too
    compile_sample = [t for c, t in given if "compile-cuda and test_epoch and sample" in c]
    assert compile_sample[0] > 300  # the last benchmark: nearly all that is left
    assert clock[0] - 1000.0 <= 420


def test_the_hints_are_what_the_compile_benchmarks_logged(tmp_path, monkeypatch):
    """The compile benchmarks run with TORCH_LOGS=perf_hints and pytest -s (torch's log
    is not pytest's to capture): one cold compile serves both sections."""
    given = {}

    def fake_run(args, timeout, env=None):
        given[args[args.index("-k") + 1]] = (args, env)
        log = "..\nskipping cudagraphs due to mutated inputs (2 instances)\n" if env else ""
        return gpu_check.Ran(" ".join(args), None, log, timeout)

    assert "did not run" in gpu_check.hints(tmp_path)
    monkeypatch.setattr(gpu_check, "run", fake_run)
    gpu_check.benchmarks(gpu_check.Budget(600), tmp_path)
    for label, key, _ in gpu_check.BENCH_RUNS:
        args, env = given[key]
        hinted = label in gpu_check.HINTED
        assert ("-s" in args) is hinted and (env == {"TORCH_LOGS": "perf_hints"}) is hinted
    body = gpu_check.hints(tmp_path)
    assert body.count("1 cudagraph skips logged") == len(gpu_check.HINTED) == 2
    assert "ran out of time" in body and "due to mutated inputs" in body


def test_a_missing_program_or_a_crashing_section_costs_one_line_not_the_check():
    ran = gpu_check.run(["no-such-program-here"], 5)
    assert ran.returncode == 127 and "FileNotFoundError" in ran.output
    body = gpu_check.guarded(lambda: 1 / 0)
    assert "crashed" in body and "ZeroDivisionError" in body


def test_a_child_out_of_time_is_killed_with_its_own_children():
    """A training's compile workers must not go on using the GPU after its timeout."""
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(p.pid, flush=True); time.sleep(60)"
    )
    ran = gpu_check.run([sys.executable, "-c", code], 3.0)
    assert ran.returncode is None
    grandchild = Path(f"/proc/{int(ran.output.split()[0])}/status")

    def gone() -> bool:  # killed: no process, or a zombie until something reaps it
        try:
            return "State:\tZ" in grandchild.read_text()
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone()
