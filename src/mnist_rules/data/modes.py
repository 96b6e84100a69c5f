"""Where the training images live, and stream mode's defaults: no torch here, so that
--help can show them."""

from __future__ import annotations

from enum import Enum


class DataMode(str, Enum):
    """Where the training images live: read whole into memory (resident), memory-
    mapped and streamed a block at a time (stream; stream.py), or whichever fits
    (auto: stream when the images would take more than half the available memory)."""

    auto = "auto"
    resident = "resident"
    stream = "stream"


# Stream mode's defaults (here, not in stream.py, so that --help need not import torch).
# Samples per block: 7.8 MB of MNIST images. Large enough that a block is one long
# sequential read; small enough that the ring in memory is nothing beside torch.
STREAM_BLOCK = 10_000
# Buffers in the ring: the block being trained on, and the next one being read.
STREAM_BUFFERS = 2
