"""Where a tiny run's start-up goes: the phases of `mnist-rules train`, timed inside
the process, and its start and exit from outside it, beside a bare `import torch`.

    python bench/startup_phases.py --data-dir ../shared/data [--rounds 7] [-- ARGS]

Each round runs `python -c "import torch"` and then this file as a child that runs
`mnist-rules train --rule batch --epochs 1 --train-subset 1000 --device cpu` (or ARGS)
with marks between the phases: the medians are printed, one line each. The child
hooks the command's own functions (api.train's heavy_imports, data.mnist.load,
training.loop.train, TrainingRun.run_epoch and train_epoch, TrainResult.write) and
changes nothing else ("evaluate" is run_epoch after train_epoch: the evaluation and
recording the epoch); "start and exit" is the child's wall time minus the time
between its first line and main()'s return. docs/engines.md, "Start-up", quotes it.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # the child's first line: the interpreter has started

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

TINY = ["train", "--rule", "batch", "--epochs", "1", "--train-subset", "1000", "--device", "cpu"]
MARK = "STARTUP-PHASES "


def child(argv: list[str]) -> None:
    """Run the command with marks; print the phases' seconds as one JSON line."""
    marks: list[tuple[str, float]] = []

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    import mnist_rules.api.train as api_train
    import mnist_rules.cli as cli

    mark("import the CLI (typer, the option tables)")

    def timed(owner, attr: str, before: str, name: str) -> None:
        inner = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            mark(before)
            try:
                return inner(*args, **kwargs)
            finally:
                mark(name)

        setattr(owner, attr, wrapper)

    heavy_imports = api_train.heavy_imports

    @contextlib.contextmanager
    def hooked():
        mark("parse the options (typer: pydantic)")
        with heavy_imports():
            yield
        mark("import torch, rich, the loop")
        from mnist_rules.api.results import TrainResult
        from mnist_rules.data import mnist
        from mnist_rules.training import loop

        timed(mnist, "load", "check the options, set up", "read the data")
        timed(loop, "train", "check the options, set up", "end the run")
        timed(loop.TrainingRun, "run_epoch", "build the run (model, engine)", "evaluate")
        timed(loop.TrainingRun, "train_epoch", "start the epoch", "train (train_seconds)")
        timed(TrainResult, "write", "end the run", "write the JSON")

    api_train.heavy_imports = hooked
    sys.argv = ["mnist-rules", *argv]
    try:
        cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
    mark("print, return")
    phases, previous = {}, T0
    for name, at in marks:
        phases[name] = phases.get(name, 0.0) + at - previous
        previous = at
    phases["in the process"] = previous - T0
    print(MARK + json.dumps(phases), flush=True)


def wall(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("args", nargs="*", help="the command's arguments (after --)")
    o = parser.parse_args()
    rows, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        command = [*(o.args or TINY), "--data-dir", o.data_dir, "--json", f"{tmp}/r.json"]
        for _ in range(o.rounds):
            bare.append(wall([sys.executable, "-c", "import torch"])[0])
            seconds, out = wall([sys.executable, __file__, "--child", *command])
            phases = json.loads(out.split(MARK)[-1])
            phases["start and exit (wall minus the above)"] = seconds - phases["in the process"]
            phases["wall"] = seconds
            epoch = json.loads(Path(f"{tmp}/r.json").read_text())["epochs"][-1]
            phases["wall minus train_seconds (the start-up)"] = seconds - epoch["train_seconds"]
            rows.append(phases)
    median = statistics.median
    print(f"medians of {o.rounds} rounds: {' '.join(command[:-2])} --json F")
    for name in rows[0]:
        print(f"{median(row[name] for row in rows) * 1000:8.0f} ms  {name}")
    print(f"{median(bare) * 1000:8.0f} ms  a bare `python -c 'import torch'`, wall")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
