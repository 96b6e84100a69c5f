"""The speed-up gate: tuned engine against torch engine, per rule and device, as ratios
measured in one benchmark run (both engines on the same machine at the same time, so
the ratio survives a noisy shared machine better than any absolute time).

    python bench/speedups.py .benchmarks/latest.json     # run by `nox -s bench`

Prints every ratio; exits 1 if one is below its floor. The floors guard what the
tuned engine reaches today on the 2-core CPU (measured: sample 6.4-8.0x, batch 8.7x,
epoch 11.2x); TARGETS are the goals it is measured against and reported, not yet
enforced where it falls short of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (rule, device) -> the least tuned/torch speed-up that passes
FLOORS = {("sample", "cpu"): 5.0, ("batch", "cpu"): 5.0, ("epoch", "cpu"): 5.0}
TARGETS = {("sample", "cpu"): 10.0, ("sample", "cuda"): 15.0}


def speedups(report: dict) -> dict[tuple[str, str], tuple[float, float]]:
    """(rule, device) -> (ratio of medians, ratio of minimums), torch time / tuned time."""
    times: dict[tuple[str, str, str], tuple[float, float]] = {}
    for bench in report["benchmarks"]:
        params = bench.get("params") or {}
        if {"rule", "engine", "device"} <= params.keys():
            key = (params["rule"], params["engine"], params["device"])
            times[key] = (bench["stats"]["median"], bench["stats"]["min"])
    ratios = {}
    for rule, engine, device in times:
        if engine == "tuned" and (rule, "torch", device) in times:
            torch_median, torch_min = times[(rule, "torch", device)]
            tuned_median, tuned_min = times[(rule, "tuned", device)]
            ratios[(rule, device)] = (torch_median / tuned_median, torch_min / tuned_min)
    return ratios


def check(report: dict) -> list[str]:
    """One line per ratio; lines starting FAIL are below their floor."""
    lines = []
    for (rule, device), (by_median, by_min) in sorted(speedups(report).items()):
        floor = FLOORS.get((rule, device))
        target = TARGETS.get((rule, device))
        failed = floor is not None and by_min < floor
        lines.append(
            f"{'FAIL' if failed else 'ok  '} {rule:<6} {device:<4} tuned is {by_median:.1f}x"
            f" faster by medians, {by_min:.1f}x by minimums"
            + (f"; floor {floor:g}x (on minimums)" if floor is not None else "")
            + (
                f"; target {target:g}x {'met' if by_min >= target else 'not met yet'}"
                if target is not None
                else ""
            )
        )
    return lines


def main(argv: list[str]) -> int:
    report = json.loads(Path(argv[1]).read_text())
    lines = check(report)
    if not lines:
        print("speed-up gate: no tuned/torch pair in the report", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
