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
    """seconds: {"epoch_sample_torch_eager_cpu": (median, min), ...}"""
    benchmarks = []
    for key, (median, minimum) in seconds.items():
        kind, rule, engine, mode, device = key.split("_")
        benchmarks.append(
            {
                "name": f"test_{kind}[{rule}-{engine}-{mode}-{device}]",
                "params": {"rule": rule, "engine": engine, "mode": mode, "device": device},
                "stats": {"median": median, "min": minimum},
            }
        )
    return {"benchmarks": benchmarks}


def test_ratios_are_torch_time_over_tuned_time_per_kind_and_mode():
    r = report(
        epoch_sample_torch_eager_cuda=(2.0, 1.8),
        epoch_sample_tuned_eager_cuda=(0.25, 0.2),
        epoch_sample_tuned_graph_cuda=(0.1, 0.1),
        step_sample_torch_eager_cuda=(1e-3, 1e-3),
        step_sample_tuned_eager_cuda=(2e-4, 1e-4),
        step_sample_tuned_graph_cuda=(1e-6, 1e-6),  # a count: the block runs on its last
    )
    assert speedups.speedups(r) == {
        ("epoch", "sample", "cuda", "eager", "torch", "eager"): (8.0, 9.0),
        ("epoch", "sample", "cuda", "graph", "torch", "eager"): (20.0, 18.0),
        ("step", "sample", "cuda", "eager", "torch", "eager"): (5.0, 10.0),
    }


def test_the_kernel_mode_is_measured_against_eager_and_the_torch_engine():
    r = report(
        epoch_sample_torch_eager_cpu=(40.0, 40.0),
        epoch_sample_tuned_eager_cpu=(3.0, 3.0),
        epoch_sample_tuned_kernel_cpu=(1.0, 1.0),
    )
    ratios = speedups.speedups(r)
    assert ratios[("epoch", "sample", "cpu", "kernel", "tuned", "eager")] == (3.0, 3.0)
    assert ratios[("epoch", "sample", "cpu", "kernel", "torch", "eager")] == (40.0, 40.0)
    lines = speedups.check(r)
    assert all(line.startswith("ok") for line in lines)
    assert any("than tuned eager" in line and "floor 2x; target 3x met" in line for line in lines)
    assert any("kernel" in line and "than torch" in line and "target 40x met" in line
               for line in lines)  # fmt: skip
    lost = report(epoch_sample_tuned_eager_cpu=(3.0, 3.0), epoch_sample_tuned_kernel_cpu=(2, 2))
    (line,) = speedups.check(lost)  # 1.5x: the kernel's gain is lost
    assert line.startswith("FAIL") and "floor 2x" in line and "target 3x not met" in line


def test_a_ratio_below_its_floor_fails_and_the_target_is_reported():
    floor = speedups.FLOORS[("epoch", "sample", "cpu", "eager", "torch", "eager")]
    ok = report(epoch_sample_torch_eager_cpu=(2.0, 2.0), epoch_sample_tuned_eager_cpu=(0.2, 0.2))
    slow = report(
        epoch_sample_torch_eager_cpu=(2.0, 2.0),
        epoch_sample_tuned_eager_cpu=(2.0 / (floor - 0.5),) * 2,
    )
    (line,) = speedups.check(ok)
    assert line.startswith("ok") and "target 10x met" in line
    (line,) = speedups.check(slow)
    assert line.startswith("FAIL") and f"floor {floor:g}x" in line and "not met" in line


def test_the_gemm_bound_rules_are_reported_against_torch_not_gated():
    """4.1x on an Intel Xeon, on code that measured 6.6-9x on AMD: a machine's GEMMs, not a
    regression. Their gate is the roofline."""
    r = report(epoch_batch_torch_eager_cpu=(4.1, 4.1), epoch_batch_tuned_eager_cpu=(1, 1))
    (line,) = speedups.check(r)
    assert line.startswith("ok") and "floor" not in line


def roofline_report(tuned_seconds, bare_seconds, rule="batch"):
    r = report(**{f"epoch_{rule}_tuned_eager_cpu": (tuned_seconds, tuned_seconds)})
    r["benchmarks"].append(
        {"name": f"test_roofline[{rule}-cpu]", "params": {"rule": rule, "device": "cpu"},
         "stats": {"median": bare_seconds, "min": bare_seconds},
         "extra_info": {"roofline": rule}}
    )  # fmt: skip
    return r


def test_the_roofline_gate_passes_near_the_gemms_and_fails_far_from_them():
    limit = speedups.ROOFLINE_LIMIT["batch"]
    (line,) = speedups.rooflines(roofline_report(0.75, 0.6))
    assert line.startswith("ok") and "1.25x the bare GEMMs" in line and f"limit {limit:g}x" in line
    (line,) = speedups.rooflines(roofline_report(0.6 * (limit + 0.1), 0.6))
    assert line.startswith("FAIL")
    assert speedups.rooflines(report(epoch_batch_tuned_eager_cpu=(1, 1))) == []  # no roofline


def test_steps_and_captured_modes_are_reported_not_gated():
    r = report(
        step_sample_torch_eager_cpu=(1.0, 1.0),
        step_sample_tuned_eager_cpu=(1.0, 1.0),
        epoch_sample_torch_eager_cuda=(1.0, 1.0),
        epoch_sample_tuned_graph_cuda=(1.0, 1.0),
    )
    lines = speedups.check(r)
    assert len(lines) == 2 and all(line.startswith("ok") for line in lines)
    assert any("tuned graph" in line and "target 15x not met" in line for line in lines)


def test_main_exits_1_on_a_failure_or_an_empty_report(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(roofline_report(0.75, 0.6)))
    assert speedups.main(["x", str(path)]) == 0
    path.write_text(json.dumps(roofline_report(3.0, 0.6)))
    assert speedups.main(["x", str(path)]) == 1
    path.write_text(json.dumps({"benchmarks": []}))
    assert speedups.main(["x", str(path)]) == 1
    assert "nothing to check in the report" in capsys.readouterr().err


def test_one_lucky_round_fails_no_gate_but_a_shifted_distribution_does():
    """A gate fails only when the ratios of minimums and of medians both miss it."""
    limit = speedups.ROOFLINE_LIMIT["batch"]
    lucky = roofline_report(0.77, 0.5)  # medians 1.54x
    bench = lucky["benchmarks"][-1]["stats"]
    bench["min"] = 0.77 / (limit + 0.3)  # one lucky roofline round: 2.5x by minimums
    (line,) = speedups.rooflines(lucky)
    assert line.startswith("ok") and "1.54x by medians" in line
    floor = speedups.FLOORS[("epoch", "sample", "cpu", "kernel", "tuned", "eager")]
    r = report(epoch_sample_tuned_eager_cpu=(3.0, 1.8), epoch_sample_tuned_kernel_cpu=(1, 1))
    (line,) = speedups.check(r)  # 1.8x by minimums, 3x by medians
    assert line.startswith("ok") and f"floor {floor:g}x" in line
    r = report(epoch_sample_tuned_eager_cpu=(1.9, 1.8), epoch_sample_tuned_kernel_cpu=(1, 1))
    (line,) = speedups.check(r)
    assert line.startswith("FAIL")


def startup_report(run: float, bare: float) -> dict:
    info = {"startup_seconds": run, "bare_torch_import_seconds": bare, "startup_rounds": 7}
    return {"benchmarks": [{"name": "test_startup", "extra_info": info, "stats": {}}]}


def test_startup_is_gated_on_what_it_takes_over_a_bare_import_of_torch():
    (line,) = speedups.startup(startup_report(1.83, 2.0))
    assert line.startswith("ok") and "-0.17 s over it" in line and "target 1.5 s not met" in line
    (line,) = speedups.startup(startup_report(1.4, 1.3))
    assert line.startswith("ok") and "target 1.5 s met" in line
    limit = speedups.STARTUP_OVER_TORCH
    (line,) = speedups.startup(startup_report(2.0 + limit + 0.01, 2.0))  # torchvision again
    assert line.startswith("FAIL")
    assert speedups.startup({"benchmarks": []}) == []
