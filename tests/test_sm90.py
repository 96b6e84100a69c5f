"""Every Triton kernel of the project compiled for an H100/H200 (sm_90) on a machine
without a GPU (tests/sm90_compile.py, in a process of its own: `triton.compile` for
GPUTarget("cuda", 90, 32), then Triton's bundled ptxas -v): with the signatures and
constexprs their launches pass, per-sample and small-batch; no register spills; and
the PTX has what the persistent schedule relies on: a release on arrival at the grid
barrier after a block-wide bar.sync, acquire reads of its counter, `.cg` loads (L2, not
a stale L1) of the partial sums other programs wrote, and no TF32 (no mma, no tf32)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_rules.engines.tuned import triton_sample_steps as steps
from sm90_compile import KERNELS, SAMPLES, SPILLING

pytestmark = [
    pytest.mark.sm90,
    pytest.mark.skipif(steps.available() is not None, reason="triton does not import"),
]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    """(kernel, samples, warps) -> what sm90_compile.py found, with the PTX's text."""
    out = tmp_path_factory.mktemp("sm90")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent / "src"), str(TESTS)])
    done = subprocess.run([sys.executable, str(TESTS / "sm90_compile.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["kernels_not_compiled"] == []  # every kernel the project launches
    found = {}
    for c in results["compiled"]:
        c["ptx"] = Path(c["ptx_file"]).read_text()
        found[c["kernel"], c["samples"], c["num_warps"]] = c
    return found


def of(compiled: dict, kernel: str, samples: int = 1) -> dict:
    (c,) = [c for (k, b, w), c in compiled.items() if (k, b) == (kernel, samples)
            and (k, b, w) != SPILLING]  # fmt: skip
    return c


@pytest.mark.parametrize("samples", SAMPLES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_compiles_for_sm90_without_spilling(compiled, kernel, samples,
                                                        record_property):  # fmt: skip
    got = of(compiled, kernel, samples)
    record_property("registers", got["registers"])
    assert 0 < got["registers"] <= 255, got["ptxas_log"]
    assert (got["spill_stores"], got["spill_loads"]) == (0, 0), got["ptxas_log"]
    assert "mma" not in got["ptx"] and ".tf32" not in got["ptx"]  # full float32


def test_a_spill_is_seen_where_there_is_one(compiled):
    """The check can fail: SPILLING must spill."""
    got = compiled[SPILLING]
    assert got["spill_stores"] > 0 and got["spill_loads"] > 0, got["ptxas_log"]


def test_the_persistent_barrier_releases_after_a_block_wide_sync_and_reads_with_acquire(
    compiled,
):
    lines = [line.strip() for line in of(compiled, "persistent")["ptx"].splitlines()]
    releases = [i for i, line in enumerate(lines) if "atom.global.gpu.release.add" in line]
    assert len(releases) == 1
    syncs = [i for i, line in enumerate(lines[: releases[0]]) if line.startswith("bar.sync")]
    between = lines[syncs[-1] : releases[0]]  # every thread's stores, then the release
    assert syncs and not any(line.startswith(("st.", "@")) and "st.global" in line
                             for line in between), between  # fmt: skip
    ptx = "\n".join(lines)
    assert re.search(r"ld\.global\.gpu\.acquire\.b32|atom\.global\.gpu\.acquire", ptx)
    assert "atom.global.gpu.relaxed.exch.b32" in ptx  # the flag, when the spin gives up


@pytest.mark.parametrize("kernel", ["head", "persistent"])
def test_the_partial_sums_other_programs_wrote_are_read_through_l2(compiled, kernel):
    assert "ld.global.cg" in of(compiled, kernel)["ptx"]
