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
    )
    assert speedups.speedups(r) == {
        ("epoch", "sample", "cuda", "eager"): (8.0, 9.0),
        ("epoch", "sample", "cuda", "graph"): (20.0, 18.0),
        ("step", "sample", "cuda", "eager"): (5.0, 10.0),
    }


def test_a_ratio_below_its_floor_fails_and_the_target_is_reported():
    floor = speedups.FLOORS[("epoch", "sample", "cpu")]
    ok = report(epoch_sample_torch_eager_cpu=(2.0, 2.0), epoch_sample_tuned_eager_cpu=(0.2, 0.2))
    slow = report(
        epoch_sample_torch_eager_cpu=(2.0, 2.0),
        epoch_sample_tuned_eager_cpu=(2.0 / (floor - 0.5),) * 2,
    )
    (line,) = speedups.check(ok)
    assert line.startswith("ok") and "target 10x met" in line
    (line,) = speedups.check(slow)
    assert line.startswith("FAIL") and f"floor {floor:g}x" in line and "not met" in line


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
    fast = report(epoch_batch_torch_eager_cpu=(10.0, 10.0), epoch_batch_tuned_eager_cpu=(1, 1))
    path.write_text(json.dumps(fast))
    assert speedups.main(["x", str(path)]) == 0
    slow = report(epoch_batch_torch_eager_cpu=(10.0, 10.0), epoch_batch_tuned_eager_cpu=(4, 4))
    path.write_text(json.dumps(slow))
    assert speedups.main(["x", str(path)]) == 1
    path.write_text(json.dumps({"benchmarks": []}))
    assert speedups.main(["x", str(path)]) == 1
    assert "no tuned/torch pair" in capsys.readouterr().err


def test_the_torchrun_benchmark_prints_seconds_per_epoch_for_1_and_2_processes():
    def job(engine, nproc, seconds):
        info = {"engine": engine, "nproc": nproc, "epoch_seconds": seconds}
        return {"name": "test_torchrun_epoch", "params": {}, "stats": {}, "extra_info": info}

    r = {"benchmarks": [job("tuned", 1, 0.9), job("tuned", 2, 0.6), job("torch", 1, 9.0)]}
    assert speedups.processes(r) == [
        "info epoch rule, tuned engine: 0.90 s per epoch in 1 process, 0.60 s in 2"
        " (torchrun, gloo): 1.50x"
    ]  # the torch engine's 2-process job is missing: no line for it


def stream_job(mode, size, rss_mib, samples_per_second):
    info = {"data_mode": mode, "set": size, "train_size": 600_000 if size == "10x" else 6_000,
            "images_bytes": 470 * 2**20, "peak_rss_bytes": rss_mib * 2**20,
            "samples_per_second": samples_per_second}  # fmt: skip
    return {"name": "test_stream_job", "params": {}, "stats": {}, "extra_info": info}


def test_the_stream_targets_pass_when_met_and_fail_when_missed():
    def lines(stream_10x_rss, resident_10x_rss, stream_speed):
        r = {"benchmarks": [
            stream_job("stream", "6k", 900, 40_000), stream_job("resident", "6k", 890, 40_000),
            stream_job("stream", "10x", stream_10x_rss, stream_speed),
            stream_job("resident", "10x", resident_10x_rss, 40_000),
        ]}  # fmt: skip
        return speedups.streaming(r)

    met = lines(stream_10x_rss=950, resident_10x_rss=1600, stream_speed=36_000)
    assert len(met) == 3 and all(line.startswith("ok") for line in met)
    assert "grew by 11% of the images' size; target < 25%" in met[0]
    assert "resident mode" in met[1] and "target >= 100%" in met[1]
    assert "90%; target >= 80%" in met[2]
    # 900 + 0.25 x 470 = 1017.5 MiB; 890 + 470 = 1360 MiB; 0.8 x 40,000 = 32,000
    missed = lines(stream_10x_rss=1020, resident_10x_rss=1350, stream_speed=31_000)
    assert all(line.startswith("FAIL") for line in missed)
    assert speedups.streaming({"benchmarks": [stream_job("stream", "6k", 900, 1)]}) == []
