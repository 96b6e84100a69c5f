"""Options shared by the commands that train, so that each is spelt one way."""

from __future__ import annotations

import typer

from mnist_rules.data.mnist import DATA_DIR_ENV, DatasetName
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS, DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode

Engine = typer.Option(
    EngineName.tuned,
    "--engine",
    help="tuned: the same SGD with the data on the device, the backward written out and the"
    " updates fused (and per-sample SGD compiled, with --step-mode auto on the CPU). torch:"
    " plain PyTorch (DataLoader, autograd, optim.SGD), as the reference trains: the"
    " baseline every speed-up is measured against.",
)
StepModeOption = typer.Option(
    StepMode.auto,
    "--step-mode",
    help="How the tuned engine runs its steps. eager: op by op. graph: each step (a block"
    " of 128 per-sample steps, or one chunk) replayed as a CUDA graph (CUDA only). compile:"
    " through torch.compile. kernel: per-sample SGD as one compiled loop per block (numba,"
    " CPU only); the batch and epoch rules' steps are GEMMs and run as in eager. auto: the"
    " fastest measured here: kernel for the sample rule on the CPU, else eager. A mode that"
    " cannot run falls back to eager with a one-line warning.",
)
Device = typer.Option(DeviceChoice.auto, "--device", help="auto takes a CUDA GPU when present.")
Dataset = typer.Option(DatasetName.mnist, "--dataset", help="Any set in MNIST's IDX format.")
DataDir = typer.Option(
    None,
    "--data-dir",
    help=f"Where <Dataset>/raw/ lives or is downloaded to. Default: ${DATA_DIR_ENV}, else the"
    " per-user cache directory.",
    file_okay=False,
)
TrainSubset = typer.Option(
    None, "--train-subset", min=1, help="Train on the first N training images (quick runs)."
)
Seed = typer.Option(0, "--seed", help="Seeds the weights and the shuffling.")
TargetAcc = typer.Option(
    96.0, "--target-acc", min=0, max=100, help="The test accuracy (percent) to race to."
)
Quiet = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
DataModeOption = typer.Option(
    DataMode.auto,
    "--data-mode",
    help="resident: read the training set into memory. stream: memory-map it and stream"
    " it a block at a time (for sets larger than memory; the batch rule then shuffles"
    " blocks, and within them, not the whole set). auto: stream when the images would"
    " take more than half the available memory.",
)
StreamBlock = typer.Option(
    STREAM_BLOCK,
    "--stream-block",
    min=1,
    help="Stream mode: samples per block, the unit read, copied and shuffled.",
)
StreamBuffers = typer.Option(
    STREAM_BUFFERS,
    "--stream-buffers",
    min=2,
    help="Stream mode: blocks in the ring of (pinned, on CUDA) buffers: one trained on,"
    " the others read ahead.",
)
