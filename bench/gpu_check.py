"""Every CUDA figure this project reports, measured in one run, written as one markdown
report: the device and versions; the CUDA and Triton tests; the Triton steps' two
schedules (a per-sample epoch each, and a sweep of sizes 1 to 64 for t0, c and the
best size on CUDA); the CUDA benchmarks of every rule in every step mode (with
bench/speedups.py's ratios); torch.compile's CUDA-graph hints (logged by the compile
benchmark); `profile --compare-transfers`; and one epoch of each rule on real MNIST.

    python bench/gpu_check.py --out report.md [--data-dir DIR]     # or: nox -s gpu

It runs on a GPU machine without internet (the project installed with
`pip install --no-deps -e .`, or PYTHONPATH=src), sized to finish within --budget
(default 540 s, so that one 10-minute call holds it): each
section's runs are child processes, each with a share of the time left (what a run or
a section leaves unused goes to the ones after it), and a run that runs out of time is
reported as such, not lost. Tests run verbose and unbuffered with a per-test
timeout (pytest-timeout), so a section cut short still says which test it was in. The
report is rewritten (whole, atomically) after each section, so a run cut short still
leaves a readable report of the sections done. The children run without
TRITON_INTERPRET (a leftover from a CPU session would put Triton's interpreter on the
GPU's tensors); the report says when it was set. Without a CUDA GPU it says so in one
line and exits 0.

--data-dir: a root holding MNIST/raw (the .gz files are enough: they are extracted
on first use). Without real MNIST there, the profile section uses a generated set of
MNIST's sizes and the real-MNIST section says it was skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from mnist_rules.atomic import atomic_path  # noqa: E402

# Each section's share of the budget in seconds, in the order they run: the surest
# first, torch.compile's last. A section may take its cap plus what the sections before
# it left of theirs (never more than is left); within a section each run takes its part
# of what the section has left, so time a run leaves goes to the runs after it. The
# caps add up to 520 s of the default 540: the environment section and the report's
# writes take the rest. Sized from the first H200 run, where a child's start (Python,
# torch, CUDA) took about 5 s, the Triton tests 25 s, the CUDA tests 52 s and a tuned
# epoch run 6-8 s; the CUDA tests leave compile mode to the benchmarks (Dynamo and
# Inductor from a cold cache would take their whole share).
CAPS = {
    "Triton tests": 60,
    "CUDA tests": 60,
    "Triton schedules": 90,
    "real MNIST": 75,
    "profile": 40,
    "benchmarks": 195,
}
SPEEDUPS_SECONDS = 10  # bench/speedups.py's ratios: out of the benchmarks' share
HINT_LOGS = {"TORCH_LOGS": "perf_hints"}  # torch.compile's hints, for the hints section
TEST_TIMEOUT = 45  # seconds for any one test (pytest-timeout), so that one hang costs one test
# The tests of each test section: pytest's -m expression.
# The Triton section compiles for sm_90 too (tests/test_sm90.py), with the machine's
# own Triton: its registers and spills, beside CI's from a newer Triton.
TEST_SECTIONS = {"Triton tests": "triton or sm90", "CUDA tests": "cuda and not torch_compile"}
# What the project and this check import; the environment section lists any missing.
PACKAGES = {
    "torch": "the project", "torchvision": "the project (MNIST's files)",
    "numpy": "the project", "numba": "the project (kernel mode on the CPU)",
    "triton": "the project (kernel mode on CUDA)", "typer": "the project and this check",
    "rich": "the project", "matplotlib": "the project (plots)",
    "platformdirs": "the project (optional: the cache directory)",
    "uniplot": "the project (optional: compare's terminal curve)",
    "pytest": "this check", "pytest_benchmark": "this check (benchmarks)",
    "pytest_timeout": "this check (a per-test timeout)",
}  # fmt: skip
# Variables the children must not inherit: TRITON_INTERPRET=1 runs Triton's kernels in
# its interpreter, program by program on the host, even on a GPU's tensors.
DROPPED_VARIABLES = ("TRITON_INTERPRET",)
DEVICE = "cuda"  # what the tool's commands are run on (the tests run them on the CPU)
# The CUDA benchmarks, one pytest run each (pytest-benchmark writes its figures only at
# the end: a run out of time loses its own alone): (label, -k expression, weight: the
# seconds expected, of the section's 185 besides the ratios'). On the H200 kernel took
# 21 s and graph 15; tuned eager ran out at 23 s (21 rounds of 2,000 eager per-sample
# steps at 100 us+). The torch engine runs the sample rule only, the pair the CUDA
# speed-up target needs (with its batch and epoch rules, 6 rounds each of a DataLoader
# over 60,000 images, it ran out at 51 s). compile times epochs only (its step
# benchmarks defer to a block: speedups.py takes no ratio of them); torch.compile from a
# cold cache is last, the least sure, and gets whatever the others leave: the sample
# rule's unit (a block of 128 steps) last of all, on its own, so that the others'
# figures survive it. Its runs log the hints (TORCH_LOGS=perf_hints, pytest -s): one
# compile serves both (a `train` of each rule in compile mode for the hints alone ran
# out at 15 s on the H200, cold).
BENCH_RUNS = [
    ("tuned eager", "tuned-eager-cuda", 30),
    ("kernel", "kernel-cuda", 22),
    ("graph", "graph-cuda", 16),
    ("torch eager", "torch-eager-cuda and sample", 40),
    ("compile", "compile-cuda and test_epoch and not sample", 30),
    ("compile sample", "compile-cuda and test_epoch and sample", 47),
]
HINTED = ("compile", "compile sample")  # the benchmark runs whose logs the hints read
# One epoch of each rule on real MNIST: (rule, engine, step mode, training images), each
# run an equal part of the section's time. On the H200 the torch engine's batch epoch
# ran out at 12 s (a DataLoader item: 70-85 us on the 2-core CPU), its per-sample epoch
# at 15 s on 6,000 images (the CUDA tests' runs suggest some 2 ms a step), and the tuned
# eager per-sample one at 15 s on 60,000 (100 us+ a step): each now trains on a subset
# meant to take a few seconds past the child's start.
REAL_RUNS = [
    ("epoch", "tuned", "auto", None),
    ("batch", "torch", "eager", 10_000),
    ("batch", "tuned", "auto", None),
    ("batch", "tuned", "graph", None),
    ("sample", "torch", "eager", 2_000),
    ("sample", "tuned", "eager", 10_000),
    ("sample", "tuned", "graph", None),
    ("sample", "tuned", "kernel", None),
]
# The Triton steps' two schedules (engines/tuned/triton_sample_sgd.py, SCHEDULE_ENV) on
# real MNIST: one per-sample epoch in kernel mode under each, then a sweep of the sizes
# the kernels take under each, whose model (docs/theory.md) gives t0 and c of an update
# on CUDA and the best size they predict: (what, schedule, weight of the section's time).
SCHEDULE_RUNS = [
    ("epoch", "two-launch", 1),
    ("epoch", "persistent", 1),
    ("sweep", "two-launch", 3),
    ("sweep", "persistent", 3),
]
SWEEP_SIZES = "1,2,4,8,16,32,64"  # 1 to the most the Triton steps take
FELL_BACK = "two launches an update"  # in the warning of a persistent schedule given up
# profile --steps by rule (the defaults are 200 and 2,000): each of --compare-transfers'
# four paths runs a warm-up, a timed and a profiled window, after the profiler's first
# start (the first CUDA test that profiles took 11 s). 512: four whole blocks of 128.
PROFILE_STEPS = {"batch": 50, "sample": 512}


@dataclass
class Report:
    """The markdown report, section by section; written whole after each one."""

    out: Path | None
    sections: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def add(self, title: str, body: str) -> None:
        self.sections.append((title, body.rstrip() + "\n"))
        if title in self.pending:
            self.pending.remove(title)
        self.write()

    def text(self) -> str:
        parts = ["# mnist-rules: GPU check\n"]
        for title, body in self.sections:
            parts.append(f"## {title}\n\n{body}")
        if self.pending:
            parts.append(f"_Not run (the check stopped first): {', '.join(self.pending)}._\n")
        return "\n".join(parts)

    def write(self) -> None:
        if self.out is None:
            return
        with atomic_path(self.out) as tmp:
            tmp.write_text(self.text())


@dataclass
class Budget:
    seconds: float
    start: float = field(default_factory=lambda: time.monotonic())
    carried: float = 0.0  # seconds the sections done so far left of their caps

    def left(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.start))

    def share(self, section: str) -> float:
        """What `section` may take: its cap and what the sections before it left, or
        less when less is left."""
        return min(CAPS[section] + self.carried, self.left())

    def done(self, section: str, seconds: float) -> None:
        """`section` took `seconds`: what it left of its share goes to the next one."""
        self.carried = max(0.0, self.carried + CAPS[section] - seconds)


def shared(section: Budget, runs: list, weights: list[float] | None = None) -> Iterator:
    """Each of a section's runs with its timeout, worked out as it starts: its weight's
    part (equal parts by default) of what the section has left, so that the time one
    run leaves goes to the runs after it."""
    weights = weights or [1.0] * len(runs)
    for i, item in enumerate(runs):
        yield item, section.left() * weights[i] / sum(weights[i:])


@dataclass
class Ran:
    command: str
    returncode: int | None  # None: ran out of time
    output: str
    seconds: float


def run(args: list[str], timeout: float, env: dict[str, str] | None = None) -> Ran:
    """A child process in the repository root, its stdout and stderr together, in its
    own process group: at its timeout the whole group is killed (the tool's own
    children, Inductor's compile workers), so nothing of it goes on using the GPU."""
    start = time.monotonic()
    command = " ".join(shlex.quote(a) for a in args)
    environ = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    environ.update({"PYTHONPATH": _pythonpath(), "PYTHONUNBUFFERED": "1"})
    environ.update(env or {})
    if timeout <= 0:
        return Ran(command, None, "(no time left in the budget)", 0.0)
    try:
        child = subprocess.Popen(
            args, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
    except OSError as error:  # no such program (nvidia-smi), or not executable
        return Ran(command, 127, f"{type(error).__name__}: {error}", time.monotonic() - start)
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        output, _ = child.communicate()  # what it printed before it was stopped
        return Ran(command, None, output, time.monotonic() - start)
    return Ran(command, child.returncode, output, time.monotonic() - start)


def _pythonpath() -> str:
    return os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def cli(*args: str) -> list[str]:
    """The tool's command line, through this interpreter (no console script needed)."""
    return [sys.executable, "-m", "mnist_rules", *args]


def outcome(ran: Ran) -> str:
    if ran.returncode is None:
        return f"**ran out of time** after {ran.seconds:.0f} s"
    verdict = "ok" if ran.returncode == 0 else f"**failed** (exit {ran.returncode})"
    return f"{verdict} in {ran.seconds:.0f} s"


def tail(text: str, lines: int = 40) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "```\n" + "\n".join(kept) + "\n```\n" if kept else ""


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- the sections -------------------------------------------------------------------


def environment() -> str:
    import torch

    rows = [
        ["device", torch.cuda.get_device_name(0)],
        ["GPU memory", f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB"],
        ["GPUs visible", str(torch.cuda.device_count())],
        ["CUDA (torch's)", str(torch.version.cuda)],
        ["Python", platform.python_version()],
        ["CPU threads", str(os.cpu_count())],
    ]
    smi = run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], 20)
    if smi.returncode == 0:
        rows.append(["driver", smi.output.strip().splitlines()[0]])
    found, missing = packages()
    rows += [[name, version] for name, version in found.items()]
    body = table(["", ""], rows)
    if missing:
        body += "\nMissing (each check that needs one says so, or falls back):\n\n"
        body += "".join(f"- {name}: {why}\n" for name, why in missing.items())
    return body + dropped_variables()


def dropped_variables() -> str:
    """A line for each of DROPPED_VARIABLES set here: the children run without it."""
    return "".join(
        f"\n{name}={os.environ[name]} was set here; the check's runs go without it.\n"
        for name in DROPPED_VARIABLES
        if name in os.environ
    )


def packages() -> tuple[dict[str, str], dict[str, str]]:
    """Each of PACKAGES imported: ({name: version}, {name: what needs it, and the error})."""
    import importlib

    found, missing = {}, {}
    for name, needed_by in PACKAGES.items():
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a broken install raises more than ImportError
            missing[name] = f"needed by {needed_by}: {type(error).__name__}: {error}"
            continue
        found[name] = str(getattr(module, "__version__", None) or _version(name))
    return found, missing


def _version(module: str) -> str:
    """An imported module's distribution version ("imported" if none is recorded)."""
    from importlib.metadata import PackageNotFoundError, version

    for name in (module, module.replace("_", "-")):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "imported"


def has_pytest_timeout() -> bool:
    import importlib.util

    return importlib.util.find_spec("pytest_timeout") is not None


def pytest_command(section: str) -> list[str]:
    """A test section's pytest: its -m expression, verbose (each test's outcome as it
    ends; run() makes the output unbuffered), a per-test timeout where pytest-timeout is
    installed, and the slowest tests' durations."""
    args = [sys.executable, "-m", "pytest", "tests", "-m", TEST_SECTIONS[section], "-v",
            "-p", "no:cacheprovider", "--durations=10"]  # fmt: skip
    return [*args, f"--timeout={TEST_TIMEOUT}"] if has_pytest_timeout() else args


def pytest_tests(section: str, budget: Budget) -> str:
    """One test section (a run cut short still shows each test it finished, and the one
    it was in)."""
    args = pytest_command(section)
    timed = any(arg.startswith("--timeout=") for arg in args)
    note = "" if timed else "(No pytest-timeout here: no per-test timeout.)\n\n"
    ran = run(args, budget.share(section))
    counted = r"\d+ (passed|failed|skipped|deselected|errors?)"
    summary = [line for line in ran.output.splitlines() if re.search(counted, line)]
    body = f"`{ran.command}`: {outcome(ran)}.\n\n{note}"
    body += f"Summary: {summary[-1].strip('= ') if summary else 'none printed'}\n\n"
    if ran.returncode != 0:
        body += tail(ran.output, 60)
    else:
        body += tail(_slowest(ran.output), 12)
    return body


def _slowest(output: str) -> str:
    """pytest's --durations lines: where a section's time went, for sizing its cap."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "slowest" in line), None)
    return "" if start is None else "\n".join(lines[start : start + 11])


def benchmarks(budget: Budget, workdir: Path) -> str:
    """The CUDA benchmarks, a pytest run per step mode (pytest-benchmark writes its JSON
    only at the end: a mode that runs out of time loses its own figures only), the
    slowest to prepare (torch.compile) last; their reports merged for the ratios."""
    section = Budget(max(0.0, budget.share("benchmarks") - SPEEDUPS_SECONDS))
    body, merged = "", {"benchmarks": []}
    weights = [weight for *_, weight in BENCH_RUNS]
    for (mode, key, _), timeout in shared(section, BENCH_RUNS, weights):
        out = workdir / f"bench-{mode.replace(' ', '-')}.json"
        args = [
            sys.executable, "-m", "pytest", "bench/test_bench_rules.py",
            "bench/test_bench_steps.py", "-k", key, "--benchmark-only", "-q",
            "-p", "no:cacheprovider", f"--benchmark-json={out}",
        ]  # fmt: skip
        hinted = mode in HINTED  # -s: torch's log reaches the output, not pytest's capture
        ran = run([*args, "-s"] if hinted else args, timeout, env=HINT_LOGS if hinted else None)
        if hinted:
            (workdir / f"hints-{mode}.log").write_text(f"{outcome(ran)}\n{ran.output}")
        body += f"- {mode}: `{ran.command}`: {outcome(ran)}.\n"
        if out.exists() and out.stat().st_size:  # empty when nothing was selected
            merged["benchmarks"] += json.loads(out.read_text()).get("benchmarks", [])
        if ran.returncode != 0:
            body += tail(ran.output, 20)
    body += "\n" + benchmark_table(merged) + "\n" + fastest_modes(merged) + "\n"
    if merged["benchmarks"]:
        both = workdir / "bench.json"
        both.write_text(json.dumps(merged))
        ratios = run([sys.executable, "bench/speedups.py", str(both)], SPEEDUPS_SECONDS)
        body += f"`python bench/speedups.py` (ratios of this run; {outcome(ratios)}):\n\n"
        body += tail(ratios.output, 60)
    return body


def benchmark_table(report: dict) -> str:
    rows = []
    for bench in sorted(report.get("benchmarks", []), key=lambda b: (b["group"], b["name"])):
        stats, info = bench["stats"], bench.get("extra_info", {})
        per = info.get("us_per_update") or info.get("mean_us")
        rows.append([
            bench["group"], bench["name"].split("[")[-1].rstrip("]"),
            _ms(stats["min"]), _ms(stats["median"]), str(stats["rounds"]),
            f"{per:,.1f}" if per is not None else "",
        ])  # fmt: skip
    header = ["group", "case", "min ms", "median ms", "rounds", "µs per update"]
    return table(header, rows) if rows else "No CUDA benchmark ran.\n"


def fastest_modes(report: dict) -> str:
    """The tuned engine's fastest step mode per rule, by the epoch benchmark's median:
    what `auto` should pick on this GPU."""
    best: dict[str, tuple[float, str]] = {}
    for bench in report.get("benchmarks", []):
        params = bench.get("params") or {}
        if not bench["group"].startswith("epoch") or params.get("device") != "cuda":
            continue
        if str(params.get("engine")).split(".")[-1] != "tuned":
            continue
        rule = str(params.get("rule")).split(".")[-1]
        mode = str(params.get("mode")).split(".")[-1]
        median = bench["stats"]["median"]
        if rule not in best or median < best[rule][0]:
            best[rule] = (median, mode)
    if not best:
        return ""
    picks = ", ".join(f"{rule}: {mode} ({_ms(t)} ms)" for rule, (t, mode) in sorted(best.items()))
    return f"Fastest tuned step mode per rule (epoch medians): {picks}.\n"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}" if seconds < 0.1 else f"{seconds * 1e3:,.1f}"


def hints(workdir: Path) -> str:
    """Whether torch.compile's reduce-overhead mode replays CUDA graphs: with
    TORCH_LOGS=perf_hints it names each function whose graphs it skips, and why. Read
    from the compile benchmarks' logs (what they printed before any timeout too)."""
    body = ""
    for mode in HINTED:
        log = workdir / f"hints-{mode}.log"
        if not log.exists():
            body += f"- {mode} benchmark: did not run.\n"
            continue
        ran, *lines = log.read_text().splitlines()  # its outcome first, then its output
        skipped = [line for line in lines if "skipping cudagraphs" in line]
        body += f"- {mode} benchmark (`TORCH_LOGS=perf_hints`; {ran}):"
        body += f" {len(skipped)} cudagraph skips logged.\n" + tail("\n".join(skipped), 10)
    return body


def profiles(budget: Budget, data_dir: Path, workdir: Path) -> str:
    body, section = "", Budget(budget.share("profile"))
    for rule, timeout in shared(section, list(PROFILE_STEPS)):
        out = workdir / f"profile-{rule}.json"
        args = cli("profile", "--compare-transfers", "--rule", rule, "--device", DEVICE,
                   "--steps", str(PROFILE_STEPS[rule]), "--data-dir", str(data_dir),
                   "--json", str(out))  # fmt: skip
        ran = run(args, timeout)
        body += f"`{ran.command}`: {outcome(ran)}.\n\n"
        if out.exists():
            body += profile_table(json.loads(out.read_text())) + "\n"
        else:
            body += tail(ran.output)
    return body


def profile_table(saved: dict) -> str:
    parts = ("data", "stall", "transfer", "compute", "overhead")
    rows = []
    for r in saved.get("runs", [saved]):
        rows.append([
            r["engine"], r["rule"], r["transfer_mode"], "pinned" if r["pinned"] else "pageable",
            f"{r['per_step_us']:,.1f}", *(f"{r[f'{p}_us']:,.1f}" for p in parts),
            str(r["transfer_count"]),
        ])  # fmt: skip
    header = ["engine", "rule", "transfer", "host memory", "µs/step", *parts, "copies"]
    return table(header, rows)


def real_mnist(budget: Budget, data_dir: Path | None, workdir: Path) -> str:
    if data_dir is None:
        return "Skipped: no real MNIST under --data-dir.\n"
    rows, failures = [], ""
    section = Budget(budget.share("real MNIST"))  # the section's share, shared by its runs
    for (rule, engine, mode, subset), timeout in shared(section, REAL_RUNS):
        out = workdir / f"train-{rule}-{engine}-{mode}.json"
        args = cli("train", "--rule", rule, "--engine", engine, "--step-mode", mode,
                   "--epochs", "1", "--device", DEVICE, "--data-dir", str(data_dir),
                   "--json", str(out))  # fmt: skip
        args += ["--train-subset", str(subset)] if subset else []
        ran = run(args, timeout)
        if not out.exists():
            rows.append([rule, engine, mode, "", "", "", "", outcome(ran)])
            failures += f"`{ran.command}`:\n\n" + tail(ran.output, 20)
            continue
        r = json.loads(out.read_text())
        epoch = r["epochs"][-1]
        rows.append([
            rule, engine, r["step_mode"], f"{r['train_size']:,}", f"{epoch['test_acc']:.2f}%",
            f"{epoch['train_seconds']:.3f}", f"{r['compile_seconds']:.1f}", outcome(ran),
        ])  # fmt: skip
    header = ["rule", "engine", "step mode ran", "images", "test acc", "train s", "compile s",
              "run"]  # fmt: skip
    return table(header, rows) + ("\n" + failures if failures else "")


def schedules(budget: Budget, data_dir: Path, workdir: Path) -> str:
    from mnist_rules.engines.tuned.triton_sample_sgd import SCHEDULE_ENV

    tables, failures = {"epoch": [], "sweep": []}, ""
    figures = {"epoch": epoch_figures, "sweep": sweep_figures}  # five cells each
    section = Budget(budget.share("Triton schedules"))
    weights = [weight for *_, weight in SCHEDULE_RUNS]
    for (what, schedule, _), timeout in shared(section, SCHEDULE_RUNS, weights):
        out = workdir / f"schedule-{what}-{schedule}.json"
        common = ["--engine", "tuned", "--step-mode", "kernel", "--device", DEVICE,
                  "--data-dir", str(data_dir), "--json", str(out)]  # fmt: skip
        if what == "epoch":
            args = cli("train", "--rule", "sample", "--epochs", "1", *common)
        else:
            args = cli("sweep", "--sizes", SWEEP_SIZES, "--epochs", "2", "--target-acc", "95",
                       "--noise-samples", "0", "--quiet", *common)  # fmt: skip
        ran = run(args, timeout, {SCHEDULE_ENV: schedule})
        warned = "; ".join(line.strip() for line in ran.output.splitlines()
                           if "warning" in line.lower())[:300]  # fmt: skip
        label = schedule  # the figures are the two-launch kernels' if it fell back
        if FELL_BACK in ran.output:
            label = f"{schedule} (fell back to two launches)"
        if out.exists():
            cells = figures[what](json.loads(out.read_text()))
        else:
            cells = [""] * 5
            failures += f"`{SCHEDULE_ENV}={schedule} {ran.command}`:\n\n" + tail(ran.output, 20)
        tables[what].append([label, *cells, warned, outcome(ran)])
    text = "One per-sample epoch, `--step-mode kernel`:\n\n" + table(
        ["schedule", "step mode ran", "test acc", "train s", "µs an update", "compile s",
         "warnings", "run"], tables["epoch"])  # fmt: skip
    text += (
        f"\nA sweep of sizes {SWEEP_SIZES}, 2 epochs, target 95%: the cost of an update"
        " t(B) = t₀ + c·B on CUDA and the best size the model predicts:\n\n"
    )
    text += table(["schedule", "t₀ µs", "c µs", "B_crit", "predicted best size",
                   "measured best size", "warnings", "run"], tables["sweep"])  # fmt: skip
    return text + ("\n" + failures if failures else "")


def epoch_figures(r: dict) -> list[str]:
    epoch = r["epochs"][-1]
    return [r["step_mode"], f"{epoch['test_acc']:.2f}%", f"{epoch['train_seconds']:.3f}",
            f"{epoch['train_seconds'] / epoch['updates'] * 1e6:.2f}",
            f"{r['compile_seconds']:.1f}"]  # fmt: skip


def sweep_figures(r: dict) -> list[str]:
    model = r.get("model") or {}
    engine = next(iter((model.get("engines") or {}).values()), {})
    number = lambda v, scale=1.0: "" if v is None else f"{v * scale:.3g}"  # noqa: E731
    return [number(engine.get("t0"), 1e6), number(engine.get("c"), 1e6),
            number(model.get("b_crit")), number(engine.get("predicted_best_size")),
            str(engine.get("measured_best_size") or "")]  # fmt: skip


def has_mnist(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return any(raw.glob("train-images-idx3-ubyte*")) if raw.is_dir() else False


def generated_set(workdir: Path) -> Path:
    """A set of MNIST's sizes (the benchmarks' kind): where real MNIST is missing."""
    from idx_files import write_dataset

    root = workdir / "generated"
    write_dataset(root, train=60_000, test=10_000)
    return root


def guarded(section: Callable[[], str]) -> str:
    """A section's body, or, if the check's own code fails in it, the error's last lines:
    one section's crash must not cost the sections after it."""
    try:
        return section()
    except Exception:
        return "**The check crashed in this section:**\n\n" + tail(traceback.format_exc(), 15)


def check(out: Path | None, data_dir: Path, budget_seconds: float) -> int:
    report = Report(out, pending=[*CAPS, "hints"])
    budget = Budget(budget_seconds)
    real = data_dir if has_mnist(data_dir) else None
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        workdir = Path(tmp)
        data = real or generated_set(workdir)
        steps: list[tuple[str, Callable[[], str]]] = [
            ("environment", environment),
            ("Triton tests", lambda: pytest_tests("Triton tests", budget)),
            ("CUDA tests", lambda: pytest_tests("CUDA tests", budget)),
            ("Triton schedules", lambda: schedules(budget, data, workdir)),
            ("real MNIST", lambda: real_mnist(budget, real, workdir)),
            ("profile", lambda: profiles(budget, data, workdir)),
            ("benchmarks", lambda: benchmarks(budget, workdir)),
            ("hints", lambda: hints(workdir)),
        ]
        for title, section in steps:
            print(f"gpu_check: {title}...", file=sys.stderr, flush=True)
            began = time.monotonic()
            report.add(title, guarded(section))
            if title in CAPS:  # what it left of its share goes to the next section
                budget.done(title, time.monotonic() - began)
    total = time.monotonic() - budget.start
    report.add("total", f"{total:.0f} s of a {budget_seconds:.0f} s budget.\n")
    if out is None:
        print(report.text())
    else:
        print(f"gpu_check: report written to {out} ({total:.0f} s)", file=sys.stderr)
    return 0


def main(
    out: Path = typer.Option(None, help="Write the markdown report here (default: print it)."),
    data_dir: Path = typer.Option(
        ROOT.parent / "shared" / "data", help="A root holding MNIST/raw (real MNIST)."
    ),
    budget: float = typer.Option(540.0, min=60, help="Seconds for the whole check."),
) -> None:
    """Measure every CUDA figure in one run (see the module docstring)."""
    import torch

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU here (torch {torch.__version__}); nothing to measure.")
        raise typer.Exit(0)
    raise typer.Exit(check(out, data_dir, budget))


if __name__ == "__main__":
    typer.run(main)
