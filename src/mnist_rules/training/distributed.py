"""Data-parallel training under torchrun, on torch.distributed.

The epoch and batch rules split exactly: an update's gradient is the mean over its
samples, so K processes that each take a part of every update, weight their part's
gradient by its share of the update, and sum the K gradients (one all-reduce) make
the update one process would. Each process trains a *local epoch*: its part of each
update of the global order, one after the other, so that the engines, which walk
positions 0..n of an order, run unchanged. The sample rule cannot split: each update
needs the weights the one before left.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK (and MASTER_ADDR/PORT for the
rendezvous); without them the run is one process and nothing here is used.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mnist_rules.config.rules import RULES, Rule
from mnist_rules.engines.chunks import Chunk
from mnist_rules.errors import UsageError
from mnist_rules.world import World

if TYPE_CHECKING:  # torch is imported where it is used
    import torch


def start(world: World, device: torch.device) -> torch.device:
    """Join the job's process group (gloo on CPU, nccl on CUDA); the device this
    process trains on (its own GPU on CUDA)."""
    import torch
    import torch.distributed as dist

    cuda = device.type == "cuda"
    if cuda:
        check_gpus(world, torch.cuda.device_count())
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # device_id binds the group to this process's GPU: NCCL then connects at once,
        # and barriers need not guess the device.
        backend, bound = ("nccl", device) if cuda else ("gloo", None)
        dist.init_process_group(backend, rank=world.rank, world_size=world.size, device_id=bound)
    return device


def check_gpus(world: World, visible: int) -> None:
    """Each process of a host trains on its own GPU, cuda:LOCAL_RANK: refuse a job with
    more processes on this host than it has visible GPUs (CUDA would stop each extra
    one with "invalid device ordinal"; NCCL refuses two ranks on one GPU). Every process
    of the host checks the same numbers, so the main one says it too."""
    if world.local_size <= visible:
        return
    raise UsageError(
        f"torchrun started {world.local_size} processes on this host, but it has"
        f" {visible} visible CUDA device{'s' if visible != 1 else ''}: each process"
        f" trains on its own GPU (cuda:LOCAL_RANK). Start at most {visible} per host"
        f" (--nproc-per-node {visible}), or train on the CPU with --device cpu."
    )


def stop() -> None:
    """Leave the process group, now, while the interpreter is whole: a group still
    alive at exit has its gloo threads torn down unjoined (SIGABRT). What holds it
    (DDP) must be let go first (Engine.close); collect any cycle that still does."""
    import gc

    import torch.distributed as dist

    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def check_rule(rule: Rule | str, samples_per_update: int, world: World) -> None:
    """Refuse what cannot be split over `world.size` processes, saying why and what to do."""
    rule, k = RULES[rule] if isinstance(rule, str) else rule, world.size
    if rule.samples == 1:
        raise UsageError(
            f"The {rule.name} rule cannot run on {k} processes: each update needs the weights"
            " the update before it left, so the processes would either wait for each"
            " other in turn (no faster than one) or update from the same weights (other"
            " math). Run it without torchrun, or use the batch or epoch rule."
        )
    if not rule.takes_batch_size and not rule.one_update_per_epoch and samples_per_update % k:
        raise UsageError(
            f"The {rule.name} rule's {samples_per_update} samples per update do not split"
            f" evenly over {k} processes. Use a number of processes that divides"
            f" {samples_per_update}."
        )
    if rule.takes_batch_size and samples_per_update % k:
        lower = samples_per_update - samples_per_update % k
        raise UsageError(
            f"--batch-size {samples_per_update} does not split evenly over {k} processes."
            f" Use a multiple of {k}, such as {lower or k} or {lower + k}, or a number of"
            f" processes that divides {samples_per_update}."
        )


def local_positions(n: int, samples_per_update: int, world: World) -> torch.Tensor:
    """The positions of the global order this process trains, in the order it trains
    them: of each update's samples, the rank's share (sizes differ by one at most)."""
    import torch

    parts = []
    for start in range(0, n, samples_per_update):
        size = min(samples_per_update, n - start)
        if size < world.size:
            raise UsageError(
                f"An update of {size} samples cannot be split over {world.size} processes"
                f" (the last one of the epoch, {n} samples in updates of"
                f" {samples_per_update}). Use fewer processes or another --train-subset."
            )
        lo = start + size * world.rank // world.size
        hi = start + size * (world.rank + 1) // world.size
        parts.append(torch.arange(lo, hi))
    return torch.cat(parts)


def local_plan(n: int, samples_per_update: int, max_chunk: int, world: World) -> list[Chunk]:
    """This process's epoch plan over its local positions. Every process gets the same
    number of chunks per update (so they refresh and stop at the same points), and
    each chunk's weight is its share of the whole update, so that the summed
    gradients are the update's mean gradient."""
    chunks, local = [], 0
    for start in range(0, n, samples_per_update):
        size = min(samples_per_update, n - start)
        mine = size * (world.rank + 1) // world.size - size * world.rank // world.size
        largest = math.ceil(size / world.size)
        pieces = math.ceil(largest / max_chunk)
        for p in range(pieces):
            lo, hi = local + mine * p // pieces, local + mine * (p + 1) // pieces
            chunks.append(Chunk(lo, hi, (hi - lo) / size, p == pieces - 1))
        local += mine
    return chunks


def all_reduce(values: list[float], op: str = "sum") -> list[float]:
    """Sum (or take the max or min of) a few host numbers over the processes: one
    small collective, float64 so that sample counts and loss sums stay exact."""
    import torch.distributed as dist

    t = _host_numbers(values)
    dist.all_reduce(t, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX,
                           "min": dist.ReduceOp.MIN}[op])  # fmt: skip
    return t.tolist()


def broadcast_from_main(value: float) -> float:
    """The main process's value, on every process."""
    import torch.distributed as dist

    t = _host_numbers([value])
    dist.broadcast(t, src=0)
    return float(t.item())


def _host_numbers(values: list[float]) -> torch.Tensor:
    """Numbers for a collective: float64, on the GPU where the backend (NCCL) needs it."""
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    return t.cuda() if dist.get_backend() == "nccl" else t


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()


# -- what the loop agrees on over the processes, each a collective that every process
# must reach at the same point of the epoch --------------------------------------------


def any_process(flag: bool) -> bool:
    """Whether `flag` is set in any process (a stop asked for by a signal)."""
    return all_reduce([float(flag)], "max")[0] > 0


def refresh(loss: float, samples: int, stop: bool) -> tuple[float, int, bool]:
    """A refresh's view of the whole job: the mean loss over every process's samples so
    far, their count, and whether a stop was asked for anywhere."""
    total, count, asked = all_reduce([loss * samples, samples, float(stop)])
    return total / count, int(count), asked > 0


def mean_loss(loss: float, samples: int) -> float:
    """The mean over every process's samples of each one's mean `loss` over `samples`."""
    total, count = all_reduce([loss * samples, samples])
    return total / count


def first_update(first: int | None) -> int | None:
    """The earliest of the processes' first non-finite updates (None: in none)."""
    found = all_reduce([math.inf if first is None else first], "min")[0]
    return None if math.isinf(found) else int(found)
