"""The benchmark session's speed-up gate (bench/speedups.py), on made-up reports."""

import importlib.util
import json
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "speedups", Path(__file__).resolve().parent.parent / "bench" / "speedups.py"
)
speedups = importlib.util.module_from_spec(spec)
spec.loader.exec_module(speedups)


def report(**seconds):
    """seconds: {"sample_torch_cpu": (median, min), ...}"""
    benchmarks = []
    for key, (median, minimum) in seconds.items():
        rule, engine, device = key.split("_")
        benchmarks.append(
            {
                "name": f"test_epoch[{rule}-{engine}-{device}]",
                "params": {"rule": rule, "engine": engine, "device": device},
                "stats": {"median": median, "min": minimum},
            }
        )
    return {"benchmarks": benchmarks}


def test_ratios_are_torch_time_over_tuned_time():
    r = report(sample_torch_cpu=(2.0, 1.8), sample_tuned_cpu=(0.25, 0.2))
    assert speedups.speedups(r) == {("sample", "cpu"): (8.0, 9.0)}


def test_a_ratio_below_its_floor_fails_and_the_target_is_reported():
    ok = report(sample_torch_cpu=(2.0, 2.0), sample_tuned_cpu=(0.3, 0.3))  # 6.7x
    slow = report(sample_torch_cpu=(2.0, 2.0), sample_tuned_cpu=(0.5, 0.5))  # 4x
    (line,) = speedups.check(ok)
    assert line.startswith("ok") and "target 10x not met yet" in line
    (line,) = speedups.check(slow)
    assert line.startswith("FAIL") and "floor 5x" in line


def test_main_exits_1_on_a_failure_or_an_empty_report(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report(batch_torch_cpu=(10.0, 10.0), batch_tuned_cpu=(1.0, 1.0))))
    assert speedups.main(["x", str(path)]) == 0
    path.write_text(json.dumps(report(batch_torch_cpu=(10.0, 10.0), batch_tuned_cpu=(4.0, 4.0))))
    assert speedups.main(["x", str(path)]) == 1
    path.write_text(json.dumps({"benchmarks": []}))
    assert speedups.main(["x", str(path)]) == 1
    assert "no tuned/torch pair" in capsys.readouterr().err
