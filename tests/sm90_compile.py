"""Compiling the project's Triton kernels for an H100/H200 (sm_90) without a GPU:
`triton.compile` through Triton's bundled ptxas, the PTX and ptxas's verbose report
(registers, spills) kept for tests/test_sm90.py to read.

It runs as a process of its own (`python tests/sm90_compile.py OUT_DIR`) without
TRITON_INTERPRET: triton.language's own jitted functions (tl.sum, tl.max) are made for
the interpreter or the compiler when it is first imported, and the tests' process
imports it for the interpreter."""

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from mnist_rules.engines.tuned import triton_persistent_steps as persistent
from mnist_rules.engines.tuned import triton_sample_steps as steps

ARCH = 90  # Hopper: H100, H200
TYPES = {torch.float32: "*fp32", torch.int32: "*i32"}
SAMPLES = [1, 8, 64]  # per update: the per-sample steps and small batches up to the most
KERNELS = ["layer1", "head", "persistent"]
# A case that must spill, so that the check is seen to fail: layer1's (256, 32) tile of
# W2 on one warp is 256 floats a thread before anything else, past ptxas's 255 registers.
SPILLING = ("layer1", 1, 1)


@dataclass(frozen=True)
class Compiled:
    """One kernel compiled for sm_90: what ptxas -v said of it, and where its PTX is."""

    kernel: str
    samples: int
    num_warps: int
    registers: int
    spill_stores: int
    spill_loads: int
    ptxas_log: str
    ptx_file: str


def launches(samples: int) -> dict[str, steps.Launch]:
    """One launch of each kernel as the steps make them, on the model's real shapes:
    the two-launch pair (an update between two others) and the persistent block."""
    b = steps.zero_buffers(torch.device("cpu"), samples=samples)
    pb = persistent.PersistentBuffers.around(b)
    return {
        "layer1": steps.layer1_launch(b, samples, samples, 0, samples),
        "head": steps.head_launch(b, samples, samples),
        "persistent": persistent.persistent_launch(pb, 0, b.pre.shape[0]),
    }


def signature(launch: steps.Launch, fn, unspecialised: list[str]) -> tuple[dict, dict, dict]:
    """Triton's signature, constexprs and attributes for the arguments a launch passes,
    specialised as the JIT specialises them on a GPU: an int equal to 1 becomes a
    constexpr, and 16-byte aligned pointers and ints that are multiples of 16 carry
    tt.divisibility 16 (vectorised loads), but for the ints left unspecialised."""
    assert [*launch.args, *launch.constexprs] == list(fn.arg_names), "the launch's order"
    sig, constexprs, attrs = {}, dict(launch.constexprs), {}
    for i, (name, value) in enumerate(launch.args.items()):
        free = name not in unspecialised
        if isinstance(value, torch.Tensor):
            sig[name] = TYPES[value.dtype]
            aligned = value.data_ptr() % 16 == 0
        elif isinstance(value, bool | int):
            if free and value == 1:
                sig[name], constexprs[name] = "constexpr", 1
                continue
            sig[name] = "i32"
            aligned = free and value % 16 == 0
        else:
            sig[name], aligned = "fp32", False
        if aligned:
            attrs[(i,)] = [["tt.divisibility", 16]]
    sig.update(dict.fromkeys(launch.constexprs, "constexpr"))
    return sig, constexprs, attrs


def ptxas_report(ptx: str) -> str:
    """ptxas -v's report on this PTX, for sm_90a, from Triton's bundled ptxas."""
    from triton.backends.nvidia.compiler import get_ptxas

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "kernel.ptx"
        source.write_text(ptx)
        done = subprocess.run(
            [get_ptxas(ARCH).path, "-v", f"--gpu-name=sm_{ARCH}a", str(source),
             "-o", str(Path(tmp) / "kernel.cubin")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return done.stderr


def compile_for_sm90(launch: steps.Launch, samples: int, out: Path) -> Compiled:
    """The launch's kernel compiled for sm_90, its PTX written under `out`."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module = steps.kernels(interpret=False)
    fn = getattr(module, launch.kernel)
    sig, constexprs, attrs = signature(launch, fn, module.UNSPECIALISED[launch.kernel])
    compiled = triton.compile(
        ASTSource(fn=fn, signature=sig, constexprs=constexprs, attrs=attrs),
        target=GPUTarget("cuda", ARCH, 32),
        options={"num_warps": launch.num_warps},
    )
    ptx = compiled.asm["ptx"]
    ptx_file = out / f"{launch.kernel}-b{samples}-w{launch.num_warps}.ptx"
    ptx_file.write_text(ptx)
    log = ptxas_report(ptx)
    registers = int(re.search(r"Used (\d+) registers", log).group(1))
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return Compiled(launch.kernel, samples, launch.num_warps, registers, int(spills[1]),
                    int(spills[2]), log, str(ptx_file))  # fmt: skip


def compile_all(out: Path) -> list[Compiled]:
    """Every kernel for every SAMPLES, and the SPILLING case; results.json under `out`."""
    done = [compile_for_sm90(launches(b)[k], b, out) for b in SAMPLES for k in KERNELS]
    kernel, samples, warps = SPILLING
    done.append(compile_for_sm90(replace(launches(samples)[kernel], num_warps=warps), samples,
                                 out))  # fmt: skip
    uncovered = set(steps.kernels(interpret=False).UNSPECIALISED) - set(KERNELS)
    (out / "results.json").write_text(json.dumps({
        "compiled": [asdict(c) for c in done], "kernels_not_compiled": sorted(uncovered),
    }))  # fmt: skip
    return done


if __name__ == "__main__":
    compile_all(Path(sys.argv[1]))
