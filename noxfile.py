"""nox sessions: lint, tests, bench (all three by default), and gpu (on a GPU machine).

python3 -m pip install nox && python3 -m nox      # what CI runs (.ci/run)
nox -s tests -- -m "not realdata"                  # arguments after -- go to pytest
"""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "bench"]
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = PYPROJECT["project"]["optional-dependencies"]["dev"]


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*[req for req in DEV if req.startswith("ruff")])
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, then two gates: the tuned/torch speed-ups measured in this run
    (bench/speedups.py), and, where this machine has saved runs, no median more than
    25% slower than the last of them."""
    session.install("-e", ".[dev]")
    Path(".benchmarks").mkdir(exist_ok=True)  # pytest-benchmark will not create it
    saved = sorted(Path(".benchmarks").glob("*/[0-9][0-9][0-9][0-9]_*.json"))
    compare = ["--benchmark-compare", "--benchmark-compare-fail=median:25%"] if saved else []
    session.run(
        "pytest",
        "bench",
        "--benchmark-only",
        "--benchmark-group-by=group",
        "--benchmark-columns=min,median,mean,max,stddev,rounds",
        "--benchmark-autosave",
        "--benchmark-json=.benchmarks/latest.json",
        *compare,
        *session.posargs,
    )
    session.run("python", "bench/speedups.py", ".benchmarks/latest.json")


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """Every CUDA figure in one markdown report, gpu-report.md (bench/gpu_check.py; without
    a GPU it says so and passes). In this interpreter, not a new venv: the GPU machines
    have no internet to install into one. Arguments after -- go to the script."""
    session.run("python", "bench/gpu_check.py", "--out", "gpu-report.md", *session.posargs)
