"""The kernel step mode's two backends, as the tuned engine asks about them (its
`kernel_steps` says which runs on which device type): whether one can run here, the
most samples per update its compiled steps take, and compiling them ahead of training.

- numba (the CPU): one compiled loop per block, numba_sample_steps.py for one sample per
  update and numba_batch_steps.py for 2 to MAX_SAMPLES;
- triton (CUDA): Triton's kernels, 1 to MAX_SAMPLES samples per update, two fused
  launches an update (triton_sample_steps.py) or one persistent launch a block
  (triton_persistent_steps.py), as triton_sample_sgd.SCHEDULE_ENV says.

No numba or triton at import: each is imported when asked about.
"""

from __future__ import annotations

import time

from mnist_rules.engines.tuned.blocked_sample_sgd import BLOCK
from mnist_rules.engines.tuned.numba_batch_steps import MAX_SAMPLES
from mnist_rules.model import LAYER_SIZES

# The most samples per update each backend's compiled steps take (`--step-mode kernel`).
MOST_SAMPLES = {"numba": MAX_SAMPLES, "triton": MAX_SAMPLES}
# Up to where `--step-mode auto` picks them: where they are measured faster than the
# eager steps, in the conditions a sweep trains in. numba, on the 2-core AMD EPYC, real
# MNIST, seconds per epoch (min/median): kernel and eager interleaved on 6,000 images,
# quiet, b = 24: 1.16/1.17 against 1.18/1.40; 40: 1.21/1.25 against 1.02/1.11; 50:
# 1.26/1.28 against 1.00/1.08; 64: 1.41/1.48 against 0.91/1.05. But eager's GEMMs on two
# threads wait on each other when anything else wakes: in a sweep with its live progress
# display, eager took 1.53 s at b = 50 (and the size benchmark's rounds 1.05 to 2.06 s),
# the kernel 1.2 to 1.3 s, steady. So up to 50. Triton's: not measured faster yet (no GPU
# has run them), so auto stays eager on CUDA.
FASTER_UP_TO = {"numba": 50, "triton": 0}
NAMES = {"numba": "numba's loop", "triton": "the Triton steps"}


def missing(backend: str | None, device_type: str) -> str | None:
    """Why the kernel steps cannot run on `device_type` with `backend` (None: there is
    none for it), and what runs instead; None when they can."""
    if backend is None:
        return (
            "the compiled steps run on the CPU (numba) or on CUDA (Triton); the tuned engine"
            f" runs eagerly on {device_type}"
        )
    if backend == "numba":
        from mnist_rules.engines.tuned.numba_sample_steps import available

        why = available()
        then = "the tuned engine runs eagerly (pip install numba for the compiled loop)"
        return None if why is None else f"{why}; {then}"
    from mnist_rules.engines.tuned.triton_sample_steps import available, interpreting

    why = available()
    if why is None and interpreting() and device_type == "cuda":
        why = (  # a leftover from a session without a GPU
            "TRITON_INTERPRET=1 is set, which would run Triton's kernels in its"
            " interpreter, program by program on the host, at hours an epoch (unset it)"
        )
    then = f"the tuned engine runs eagerly on {device_type}"
    return None if why is None else f"{why}; {then}"


def compile_now(backend: str, device, samples_per_update: int) -> float:
    """Compile (or load from a cache) `backend`'s steps for updates of
    `samples_per_update`: the seconds it took."""
    if backend == "triton":
        from mnist_rules.engines.tuned import triton_sample_steps
        from mnist_rules.engines.tuned.triton_sample_sgd import schedule_from_env

        _, hidden1, hidden2, classes = LAYER_SIZES
        shape = {"hidden1": hidden1, "hidden2": hidden2, "classes": classes, "block": BLOCK}
        seconds = triton_sample_steps.compile_now(device, samples_per_update, **shape)
        if schedule_from_env(warn=False) == "persistent":
            seconds += _compile_persistent(device, samples_per_update, shape)
        return seconds
    if samples_per_update > 1:
        from mnist_rules.engines.tuned import numba_batch_steps

        return numba_batch_steps.compile_now()
    from mnist_rules.engines.tuned import numba_sample_steps

    return numba_sample_steps.compile_now()


def _compile_persistent(device, samples_per_update: int, shape: dict) -> float:
    """Compile the persistent kernel: the seconds it took. A failure is said once and
    leaves the steps on two launches an update (the two-launch kernels compiled
    already)."""
    from mnist_rules.engines.tuned import triton_persistent_steps
    from mnist_rules.errors import first_line, warn_fallback

    start = time.perf_counter()
    try:
        return triton_persistent_steps.compile_now(device, samples_per_update, **shape)
    except Exception as error:  # Triton's errors have no common base
        warn_fallback("--step-mode kernel: compiling the persistent Triton kernel failed",
                      error, "two launches an update")  # fmt: skip
        triton_persistent_steps.unusable = first_line(error)
        return time.perf_counter() - start
