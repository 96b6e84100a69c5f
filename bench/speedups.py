"""The speed-up gates, as ratios measured in one benchmark run (everything on the same
machine at the same time, so a ratio survives a noisy shared machine better than any
absolute time). Ratios are of minimums (noise only ever adds time) and of medians.

    python bench/speedups.py .benchmarks/latest.json     # run by `nox -s bench`

- Against the torch engine: the torch/tuned ratio for every benchmark (epoch or step),
  rule, device and tuned step mode. Only the sample rule's eager ratio has a floor:
  the GEMM-bound rules' ratio moves with the machine's GEMMs (batch: 6.6-9x on AMD
  EPYC machines, 4.1-4.4x on an Intel Xeon, on the same code), so they are gated
  against their roofline instead.
- Against the roofline (bench/test_bench_roofline.py): the tuned engine's eager epoch
  of the batch and epoch rules over the bare GEMMs of one epoch; at most ROOFLINE_LIMIT.
- The kernel step mode against eager and the torch engine, for the sample rule.

A floor or limit fails only when the ratio of minimums and the ratio of medians both
miss it. FLOORS and limits catch a lost optimisation, not noise: each is set well inside what
unchanged code measured across runs and machines (in speedups.py's history and
docs/development.md). TARGETS are the issues' goals, each reported as met or not in
every run.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from pathlib import Path

# (kind, rule, device, tuned mode, baseline engine, baseline mode) -> the least
# baseline/tuned ratio of minimums that passes.
FLOORS = {
    # The sample rule, eager: measured 5.9-13.9x (6.4x in a CI run) on AMD, 11.8x on Xeon.
    ("epoch", "sample", "cpu", "eager", "torch", "eager"): 5.0,
    # The kernel mode's epoch over eager's, generated data, Intel Xeon, four runs:
    # 2.35-3.25x by minimums, 2.76-3.58x by medians; 3.6x on real MNIST
    # (docs/engines.md). 2x fails a kernel that lost its gain.
    ("epoch", "sample", "cpu", "kernel", "tuned", "eager"): 2.0,
}
TARGETS = {  # a mode of "*": every tuned mode without a target of its own
    ("epoch", "sample", "cpu", "eager", "torch", "eager"): 10.0,
    ("epoch", "sample", "cuda", "*", "torch", "eager"): 15.0,
    ("epoch", "sample", "cpu", "kernel", "tuned", "eager"): 3.0,
    ("epoch", "sample", "cpu", "kernel", "torch", "eager"): 40.0,
}
# The tuned engine's eager epoch over the bare GEMMs of one epoch, at most: measured in
# five runs on the Intel Xeon, whose fast GEMMs make the ratio largest (the rest of the
# epoch is a larger share of a shorter one): batch 1.52-1.86x by minimums, 1.59-1.74x
# by medians; epoch 1.15-1.32x and 1.16-1.36x. Training on one thread instead of two
# measured 2.40x and 2.43x (batch), 2.35x and 2.34x (epoch).
ROOFLINE_LIMIT = {"batch": 2.2, "epoch": 2.2}
# A step benchmark of a mode that defers its steps (a block of per-sample steps runs
# at the block's last) times a count, 127 steps in 128: no ratio of it is printed.
DEFERRING = {"graph", "compile", "kernel"}

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


def speedups(report: dict) -> dict[tuple[str, ...], tuple[float, float]]:
    """(kind, rule, device, tuned mode, baseline engine, baseline mode) ->
    baseline/tuned (ratio of medians, of minimums); the baselines are the torch engine
    and, for the kernel mode, the tuned engine's eager steps."""
    times = timings(report)
    ratios = {}
    for (kind, rule, engine, mode, device), (median, minimum) in times.items():
        if engine != "tuned" or (kind == "step" and mode in DEFERRING and rule == "sample"):
            continue
        baselines = [("torch", "eager")] + ([("tuned", "eager")] if mode == "kernel" else [])
        for base_engine, base_mode in baselines:
            base = times.get((kind, rule, base_engine, base_mode, device))
            if base is not None:
                key = (kind, rule, device, mode, base_engine, base_mode)
                ratios[key] = (base[0] / median, base[1] / minimum)
    return ratios


def check(report: dict) -> list[str]:
    """One line per ratio; lines starting FAIL are below their floor."""
    lines = []
    for key, (by_median, by_min) in sorted(speedups(report).items()):
        kind, rule, device, mode, base_engine, base_mode = key
        floor = FLOORS.get(key)
        target = TARGETS.get(key, TARGETS.get((kind, rule, device, "*", base_engine, base_mode)))
        # A gate fails only when both ratios miss it: one lucky round moves a minimum
        # (measured: 2.35x by minimums, 3.0x by medians, for the same kernel/eager run),
        # while a real regression moves the whole distribution, and so both.
        failed = floor is not None and max(by_min, by_median) < floor
        base = "torch" if base_engine == "torch" else f"tuned {base_mode}"
        lines.append(
            f"{'FAIL' if failed else 'ok  '} {kind:<5} {rule:<6} {device:<4} tuned {mode:<8}"
            f" is {by_min:.1f}x faster than {base} by minimums, {by_median:.1f}x by medians"
            + (f"; floor {floor:g}x" if floor is not None else "")
            + (
                f"; target {target:g}x {'met' if by_min >= target else 'not met'}"
                if target is not None
                else ""
            )
        )
    return lines


def rooflines(report: dict) -> list[str]:
    """The tuned engine's eager epoch over its rule's bare GEMMs; FAIL above the limit."""
    bare = {}
    for bench in report["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "roofline" in info:
            bare[info["roofline"]] = (bench["stats"]["median"], bench["stats"]["min"])
    times = timings(report)
    lines = []
    for rule, limit in ROOFLINE_LIMIT.items():
        tuned = times.get(("epoch", rule, "tuned", "eager", "cpu"))
        if tuned is None or rule not in bare:
            continue
        by_min, by_median = tuned[1] / bare[rule][1], tuned[0] / bare[rule][0]
        failed = min(by_min, by_median) > limit  # both must miss it, as in check()
        lines.append(
            f"{'FAIL' if failed else 'ok  '} epoch {rule:<6} cpu  tuned eager takes"
            f" {by_min:.2f}x the bare GEMMs of its epoch by minimums ({tuned[1]:.3f} s"
            f" against {bare[rule][1]:.3f} s), {by_median:.2f}x by medians; limit {limit:g}x"
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


# Issue 25's gate along the samples-per-update axis (bench/test_bench_sizes.py): from
# one size to the next the epoch takes at most SIZE_RISE_LIMIT times longer. Its other
# asks are reported, met or not: the sizes in NO_SLOWER_THAN_ONE no slower than one
# sample per update (measured 0.76-0.98x at b = 2 and 0.87-1.07x at b = 10: the
# compiled loop's work per sample is about the same at every size, docs/engines.md),
# and a per-sample epoch (60,000 updates) in at most SAMPLE_EPOCH_GOAL seconds.
SIZE_RISE_LIMIT = 1.15
NO_SLOWER_THAN_ONE = (2, 10)
SAMPLE_EPOCH_GOAL = 1.0
EPOCH = 60_000


def sizes(report: dict) -> list[str]:
    """The size benchmark's epoch times along the axis against the gate (FAIL when both
    the ratio of minimums and of medians miss it), the fit t(b) = t0 + c*b of each step
    that ran (scipy's linregress over the sizes' median cost per update), b = 2 and 10
    against b = 1, and the per-sample epoch against its goal."""
    from statistics import median

    from scipy.stats import linregress

    lines = []
    for bench in report["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "sizes_mode" not in info:
            continue
        mode, samples, ran = info["sizes_mode"], info["samples"], info["ran"]
        times = {int(b): t for b, t in info["seconds"].items()}
        ordered = sorted(times)
        # Seconds per 60,000-image epoch: (median, min) of the rounds.
        epoch = {
            b: (median(t) * EPOCH / samples, min(t) * EPOCH / samples) for b, t in times.items()
        }
        per_update = {b: median(t) / math.ceil(samples / b) * 1e6 for b, t in times.items()}
        lines += [
            f"info {mode:<5} b={b:<5} ran {ran[str(b)]:<6} {per_update[b]:>10,.1f} us per update,"
            f" {epoch[b][0]:.2f} s per 60,000-image epoch (median; min {epoch[b][1]:.2f} s)"
            for b in ordered
        ]
        for steps in sorted(set(ran.values())):
            xs = [b for b in ordered if ran[str(b)] == steps]
            if len(xs) >= 3:
                fit = linregress(xs, [per_update[b] for b in xs])
                lines.append(
                    f"info {mode} ({steps} steps, b = {', '.join(map(str, xs))}): t(b) = t0 + c*b"
                    f" with t0 = {fit.intercept:.1f} +- {fit.intercept_stderr:.1f} us,"
                    f" c = {fit.slope:.2f} +- {fit.stderr:.2f} us per sample"
                )
        if mode != "auto":
            continue
        for a, b in itertools.pairwise(ordered):
            rises = [epoch[b][i] / epoch[a][i] for i in (0, 1)]
            failed = min(rises) > SIZE_RISE_LIMIT
            lines.append(
                f"{'FAIL' if failed else 'ok  '} size {mode}: the epoch at b={b} takes"
                f" {rises[1]:.2f}x b={a}'s by minimums, {rises[0]:.2f}x by medians;"
                f" limit {SIZE_RISE_LIMIT:g}x"
            )
        for b in (b for b in NO_SLOWER_THAN_ONE if b in epoch and 1 in epoch):
            ratio = [epoch[b][i] / epoch[1][i] for i in (0, 1)]
            lines.append(
                f"info size {mode}: the epoch at b={b} takes {ratio[1]:.2f}x b=1's by minimums,"
                f" {ratio[0]:.2f}x by medians; target 1x"
                f" {'met' if min(ratio) <= 1.0 else 'not met'}"
            )
        if 1 in epoch:
            best = epoch[1][1]
            lines.append(
                f"info size {mode}: a per-sample epoch projects to {best:.2f} s (min;"
                f" {epoch[1][0]:.2f} s median); goal {SAMPLE_EPOCH_GOAL:g} s"
                f" {'met' if best <= SAMPLE_EPOCH_GOAL else 'not met'}"
            )
    return lines


# Issue 25's start-up (bench/test_bench_startup.py): a tiny run's wall time minus its
# training time. Importing torch alone takes 1.6-2.1 s wall on the 2-core AMD EPYC
# (torch 2.14.1, the CUDA wheel), more than the 1.5 s target, so the gate is on
# what the run takes beyond a bare `import torch` measured in the same rounds: measured
# -0.11 to -0.32 s (docs/engines.md, "Start-up"); torchvision's or torch._dynamo's
# import coming back would add about 1.3 s. The target is reported, met or not.
STARTUP_OVER_TORCH = 0.5
STARTUP_TARGET = 1.5


def startup(report: dict) -> list[str]:
    """The start-up benchmark's median against a bare import of torch (FAIL more than
    STARTUP_OVER_TORCH over it) and against the issue's target; nothing without it."""
    for bench in report["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "startup_seconds" in info:
            run, bare = info["startup_seconds"], info["bare_torch_import_seconds"]
            over = run - bare
            return [
                f"{'FAIL' if over > STARTUP_OVER_TORCH else 'ok  '} start-up of a tiny run:"
                f" {run:.2f} s beyond its training (median of {info['startup_rounds']}); a bare"
                f" import of torch took {bare:.2f} s, so {over:+.2f} s over it; limit"
                f" +{STARTUP_OVER_TORCH:g} s; target {STARTUP_TARGET:g} s"
                f" {'met' if run <= STARTUP_TARGET else 'not met'}"
            ]
    return []


def main(argv: list[str]) -> int:
    report = json.loads(Path(argv[1]).read_text())
    for line in processes(report):
        print(line)
    lines = check(report) + rooflines(report) + streaming(report) + sizes(report)
    lines += startup(report)
    if not lines:
        print(
            "speed-up gate: nothing to check in the report (no tuned/torch pair, no roofline)",
            file=sys.stderr,
        )
        return 1
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
