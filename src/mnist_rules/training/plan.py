"""An epoch's plan: its updates, each split into chunks small enough to keep memory
independent of the training set's size (TrainConfig.chunk_size). No torch here."""

from __future__ import annotations

from mnist_rules.engines.chunks import Chunk


def plan_epoch(train_size: int, samples_per_update: int, max_chunk: int) -> list[Chunk]:
    """Split one epoch into updates of `samples_per_update` samples (the last may be
    smaller), and each update into chunks of at most `max_chunk` samples."""
    if train_size < 1 or samples_per_update < 1 or max_chunk < 1:
        raise ValueError("train_size, samples_per_update and max_chunk must be positive")
    chunks = []
    for update_start in range(0, train_size, samples_per_update):
        update_stop = min(update_start + samples_per_update, train_size)
        update_size = update_stop - update_start
        for start in range(update_start, update_stop, max_chunk):
            stop = min(start + max_chunk, update_stop)
            chunks.append(Chunk(start, stop, (stop - start) / update_size, stop == update_stop))
    return chunks
