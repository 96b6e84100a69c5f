"""The speed-up gate: the tuned engine against the torch engine, as ratios measured in one
benchmark run (both engines on the same machine at the same time, so the ratio
survives a noisy shared machine better than any absolute time).

    python bench/speedups.py .benchmarks/latest.json     # run by `nox -s bench`

Prints the torch/tuned ratio for every benchmark (epoch or step), rule, device and
tuned step mode; exits 1 if an epoch ratio of the eager tuned engine is below its
floor. Ratios are of minimums (noise only ever adds time) and of medians.

FLOORS catch a lost optimisation, not noise: on the shared 2-core CPU the same code
measured 5.9-13.9x (sample; 6.4x in a CI run), 6.9-9.4x (batch) and 8.5-11.3x (epoch)
across runs, so a floor at the issue's 10x target for the sample rule would fail on
noise about half the time, and one at 6x now and then. TARGETS are the issue's goals,
each reported as met or not in every run.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# (benchmark kind, rule, device) -> the least torch/tuned ratio of minimums that passes.
FLOORS = {
    ("epoch", "sample", "cpu"): 5.0,
    ("epoch", "batch", "cpu"): 5.0,
    ("epoch", "epoch", "cpu"): 5.0,
}
TARGETS = {("epoch", "sample", "cpu"): 10.0, ("epoch", "sample", "cuda"): 15.0}

Key = tuple[str, str, str, str, str]  # kind, rule, engine, mode, device


def timings(report: dict) -> dict[Key, tuple[float, float]]:
    """Each benchmark's (median, min), keyed by what it measured."""
    times = {}
    for bench in report["benchmarks"]:
        params = bench.get("params") or {}
        kind = re.match(r"test_(\w+?)\[", bench.get("name", ""))
        if kind and {"rule", "engine", "device"} <= params.keys():
            mode = params.get("mode", "eager")
            key = (kind.group(1), params["rule"], params["engine"], mode, params["device"])
            times[key] = (bench["stats"]["median"], bench["stats"]["min"])
    return times


def speedups(report: dict) -> dict[tuple[str, str, str, str], tuple[float, float]]:
    """(kind, rule, device, tuned mode) -> torch/tuned (ratio of medians, of minimums)."""
    times = timings(report)
    ratios = {}
    for (kind, rule, engine, mode, device), (median, minimum) in times.items():
        plain = times.get((kind, rule, "torch", "eager", device))
        if engine == "tuned" and plain is not None:
            ratios[(kind, rule, device, mode)] = (plain[0] / median, plain[1] / minimum)
    return ratios


def check(report: dict) -> list[str]:
    """One line per ratio; lines starting FAIL are below their floor."""
    lines = []
    for (kind, rule, device, mode), (by_median, by_min) in sorted(speedups(report).items()):
        floor = FLOORS.get((kind, rule, device)) if mode == "eager" else None
        target = TARGETS.get((kind, rule, device))
        failed = floor is not None and by_min < floor
        lines.append(
            f"{'FAIL' if failed else 'ok  '} {kind:<5} {rule:<6} {device:<4} tuned {mode:<8}"
            f" is {by_min:.1f}x faster by minimums, {by_median:.1f}x by medians"
            + (f"; floor {floor:g}x" if floor is not None else "")
            + (
                f"; target {target:g}x {'met' if by_min >= target else 'not met'}"
                if target is not None
                else ""
            )
        )
    return lines


def processes(report: dict) -> list[str]:
    """The torchrun benchmark's seconds per epoch, 1 process against 2 (reported only)."""
    seconds = {}
    for bench in report["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "nproc" in info:
            seconds[(info["engine"], info["nproc"])] = info["epoch_seconds"]
    lines = []
    for engine in sorted({engine for engine, _ in seconds}):
        one, two = seconds.get((engine, 1)), seconds.get((engine, 2))
        if one is not None and two is not None:
            lines.append(
                f"info epoch rule, {engine} engine: {one:.2f} s per epoch in 1 process,"
                f" {two:.2f} s in 2 (torchrun, gloo): {one / two:.2f}x"
            )
    return lines


# Issue 8's targets for stream mode, against the 6,000-image set and resident mode.
STREAM_RSS_GROWTH = 0.25  # a stream run grows by less than this share of the images
RESIDENT_RSS_GROWTH = 1.0  # a resident run, by at least the images' size
STREAM_SPEED = 0.80  # stream's samples/s over resident's, at least


def streaming(report: dict) -> list[str]:
    """The stream benchmark's peak RSS and samples/s against the targets; FAIL lines
    miss one. Nothing when the report has no stream benchmark."""
    jobs = {}
    for bench in report["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "data_mode" in info:
            jobs[(info["data_mode"], info["set"])] = info
    if len(jobs) < 4:
        return []
    large = jobs[("stream", "10x")]
    size = large["images_bytes"]
    lines = []
    for mode, (target, above) in {
        "stream": (STREAM_RSS_GROWTH, False),
        "resident": (RESIDENT_RSS_GROWTH, True),
    }.items():
        grown = jobs[(mode, "10x")]["peak_rss_bytes"] - jobs[(mode, "6k")]["peak_rss_bytes"]
        met = grown >= target * size if above else grown < target * size
        lines.append(
            f"{'ok  ' if met else 'FAIL'} {mode} mode: peak RSS"
            f" {jobs[(mode, '6k')]['peak_rss_bytes'] / 2**20:,.0f} MiB on 6,000 images,"
            f" {jobs[(mode, '10x')]['peak_rss_bytes'] / 2**20:,.0f} MiB on"
            f" {large['train_size']:,} ({size / 2**20:,.0f} MiB of images): grew by"
            f" {grown / size:.0%} of the images' size; target {'>=' if above else '<'}"
            f" {target:.0%}"
        )
    resident = jobs[("resident", "10x")]["samples_per_second"]
    ratio = large["samples_per_second"] / resident
    lines.append(
        f"{'ok  ' if ratio >= STREAM_SPEED else 'FAIL'} stream mode trains the batch rule at"
        f" {large['samples_per_second']:,.0f} samples/s, resident at {resident:,.0f}:"
        f" {ratio:.0%}; target >= {STREAM_SPEED:.0%}"
    )
    return lines


def main(argv: list[str]) -> int:
    report = json.loads(Path(argv[1]).read_text())
    for line in processes(report):
        print(line)
    lines = check(report) + streaming(report)
    if not lines:
        print("speed-up gate: no tuned/torch pair in the report", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
