"""The commands' typer.Options, built from the option specs (api/specs.py: each option's
flags, default and range, shared with the Python API); here only what --help says."""

from __future__ import annotations

from pathlib import Path

import typer

from mnist_rules.api.specs import SHARED, Spec
from mnist_rules.data.mnist import DATA_DIR_ENV


def option(spec: Spec, help: str, **extra) -> typer.Option:
    """The typer.Option for `spec`: its default, flags, range and path checks."""
    checks = {key: getattr(spec, key) for key in ("min", "max") if getattr(spec, key) is not None}
    if spec.kind is Path:
        checks.update(file_okay=spec.file_okay, dir_okay=spec.dir_okay, exists=spec.exists)
    return typer.Option(spec.default, *spec.flags, help=help, **checks, **extra)


ENGINE_HELP = (
    "tuned: the same SGD with the data on the device, the backward written out and the"
    " updates fused (and per-sample SGD compiled, with --step-mode auto on the CPU). torch:"
    " plain PyTorch (DataLoader, autograd, optim.SGD), as the reference trains: the"
    " baseline every speed-up is measured against."
)
Engine = option(SHARED["engine"], help=ENGINE_HELP)
StepModeOption = option(
    SHARED["step_mode"],
    help="How the tuned engine runs its steps. eager: op by op. graph: each step (a block"
    " of 128 per-sample steps, or one chunk) replayed as a CUDA graph (CUDA only). compile:"
    " through torch.compile. kernel: per-sample SGD's steps compiled (a numba loop per block"
    " on the CPU, fused Triton kernels on CUDA); the batch and epoch rules' steps are GEMMs"
    " and run as in eager. auto: the"
    " fastest measured here: kernel for the sample rule on the CPU, else eager. A mode that"
    " cannot run falls back to eager with a one-line warning.",
)
Device = option(SHARED["device"], help="auto takes a CUDA GPU when present.")
Dataset = option(SHARED["dataset"], help="Any set in MNIST's IDX format.")
DataDir = option(
    SHARED["data_dir"],
    help=f"Where <Dataset>/raw/ lives or is downloaded to. Default: ${DATA_DIR_ENV}, else the"
    " per-user cache directory.",
)
TrainSubset = option(
    SHARED["train_subset"], help="Train on the first N training images (quick runs)."
)
Seed = option(SHARED["seed"], help="Seeds the weights and the shuffling.")
TargetAcc = option(SHARED["target_acc"], help="The test accuracy (percent) to race to.")
Quiet = option(SHARED["quiet"], help="Print nothing but errors.")
DataModeOption = option(
    SHARED["data_mode"],
    help="resident: read the training set into memory. stream: memory-map it and stream"
    " it a block at a time (for sets larger than memory; the batch rule then shuffles"
    " blocks, and within them, not the whole set). auto: stream when the images would"
    " take more than half the available memory.",
)
StreamBlock = option(
    SHARED["stream_block"],
    help="Stream mode: samples per block, the unit read, copied and shuffled.",
)
StreamBuffers = option(
    SHARED["stream_buffers"],
    help="Stream mode: blocks in the ring of (pinned, on CUDA) buffers: one trained on,"
    " the others read ahead.",
)
