"""The tuned engine: the same SGD as the torch engine with the overhead taken out.

- Data: the images decoded once into one uint8 tensor and moved to the device once
  (pinned + non_blocking on CUDA); scaled to float on the device a chunk or block at a
  time, with ToTensor's arithmetic (float(u8) / 255), so the inputs are bit-identical.
- Math: the MLP's backward written out (engines.tuned.mlp_steps), the update fused into it;
  per-sample SGD defers the first layer's updates a block at a time
  (engines.tuned.blocked_sample_sgd), which is where that rule's time went; in the kernel
  step mode a block's updates of 1 to 64 samples run as one compiled loop on the CPU
  (engines.tuned.numba_sample_sgd), or as Triton's kernels on CUDA, two launches an
  update or one persistent launch a block (engines.tuned.triton_sample_sgd);
  kernel_backends says which.
- No host sync per step: each sample's logits are written into one device tensor,
  which the loss ledger (engines.ledger) turns into losses when the loop reads it
  (once per epoch, and at the reporter's refreshes).
- CPU threads: one while training eager per-sample steps or eager updates of up to
  ONE_THREAD_SAMPLES (measured faster than two: their ops are too small to split),
  except for the per-block GEMMs, which use all cores; all cores for the kernel mode
  and larger updates. Set for the epoch's loop only, so evaluation
  and whatever runs next keep the process's setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar

import torch

from mnist_rules.engines.base import Engine, unit_floats
from mnist_rules.engines.chunks import Chunk
from mnist_rules.engines.modes import StepMode, Transfer
from mnist_rules.engines.regions import EPOCH_START
from mnist_rules.engines.tuned import input_sources, kernel_backends
from mnist_rules.engines.tuned.blocked_sample_sgd import BLOCK, BlockedSampleSgd
from mnist_rules.engines.tuned.capture import LazyUnit, mark_static
from mnist_rules.engines.tuned.input_sources import InputSource, ResidentInputs, to_device
from mnist_rules.engines.tuned.mlp_steps import MlpParams, chunk_step
from mnist_rules.engines.tuned.sample_steps import SampleSteps

CLASSES = 10
EVAL_CHUNK = 2000
# Eager updates of up to this many samples train on one thread: their GEMMs are too
# small to share. Measured on the 2-core AMD EPYC, 2,000-6,000 updates, four runs: b = 2
# took 240-310 us per update on one thread and 250-750 us on two (some runs 3x slower
# on two, waiting for the other core); b = 10, 400-430 against 390-950 us; b = 50,
# 1.2-1.3 against 0.9-1.4 ms.
ONE_THREAD_SAMPLES = 20


class TunedEngine(Engine):
    name = "tuned"
    step_modes = frozenset(StepMode) - {StepMode.auto}
    # The kernel step mode's per-sample steps by device type: Triton's fused kernels on
    # CUDA (engines.tuned.triton_sample_sgd), numba's compiled loop on the CPU. The tests point
    # "cpu" at "triton" to run Triton's kernels end to end in its interpreter.
    # What each backend can do and how it compiles: engines.tuned.kernel_backends.
    kernel_steps: ClassVar[dict[str, str]] = {"cuda": "triton", "cpu": "numba"}

    @classmethod
    def create(cls, model, data, device, lr, step_mode, transfer, pinned, world, stream):
        """With its inputs streamed, copied per step (on CUDA only: on a CPU there is
        nothing to copy), or resident."""
        images = data.train_images.reshape(data.train_size, -1)
        if stream is not None:
            source = input_sources.StreamedInputs(stream, pinned)
        elif Transfer(transfer or Transfer.resident) is Transfer.per_step and device.type == "cuda":
            source = input_sources.HostCopiedInputs(images, device, pinned)
        else:
            source = input_sources.ResidentInputs(images, device, pinned)
        return cls(
            model, data, device, lr, step_mode, source=source, transfer=transfer, world=world
        )

    @classmethod
    def cannot_run(cls, step_mode: StepMode, device_type: str) -> str | None:
        if step_mode is StepMode.graph and device_type != "cuda":
            return f"CUDA graphs need a CUDA device; the tuned engine runs eagerly on {device_type}"
        if step_mode is not StepMode.kernel:
            return None
        return kernel_backends.missing(cls.kernel_steps.get(device_type), device_type)

    @classmethod
    def kernel_samples(cls, device_type: str, faster: bool = False) -> int:
        table = kernel_backends.FASTER_UP_TO if faster else kernel_backends.MOST_SAMPLES
        return table.get(cls.kernel_steps.get(device_type, ""), 0)

    @classmethod
    def prepare_kernel(cls, device, samples_per_update: int = 1) -> float:
        backend = cls.kernel_steps[device.type]
        return kernel_backends.compile_now(backend, device, samples_per_update)

    @classmethod
    def kernel_steps_name(cls, device_type: str) -> str:
        return kernel_backends.NAMES[cls.kernel_steps.get(device_type, "numba")]

    def __init__(
        self,
        model,
        data,
        device,
        lr,
        step_mode=StepMode.eager,
        block=None,
        *,
        source: InputSource | None = None,
        transfer=None,
        world=None,
    ):
        super().__init__(model, data, device, lr, world)
        block = block or BLOCK
        self.lr, self.step_mode = lr, StepMode(step_mode)
        self.params = MlpParams(self.model)
        n = data.train_size
        # Where the training images come from (engines.tuned.input_sources): resident on the
        # device unless `create` gave another source.
        self.source = source or ResidentInputs(data.train_images.reshape(n, -1), device)
        self.source.regions = self.regions
        if self.step_mode.captures and not self.source.static:
            raise ValueError("captured steps gather their inputs from the resident set only")
        self.stream = getattr(self.source, "stream", None)  # profile reads stream mode's ring
        self.transfer = Transfer(transfer or Transfer.resident)  # as asked: profile says it
        self.pinned = self.source.pinned
        self.labels = to_device(data.train.targets[:n], device)
        test = data.test
        self.test_images = to_device(test.data.reshape(len(test), -1).contiguous(), device)
        self.test_labels = to_device(test.targets, device)
        # Static buffers (fixed addresses: captured units read and write them): each
        # position's one-hot label and logits, and where a unit starts.
        self._positions = n  # positions in an epoch: the whole set, or a torchrun share
        self._onehot = torch.zeros(n, CLASSES, device=device)
        self._logits = torch.zeros(n, CLASSES, device=device)
        self._start = torch.zeros((), dtype=torch.long, device=device)
        self._arange = torch.arange(max(n, block), device=device)
        self._rows: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per-sample views
        self._per_sample = False  # one sample per update
        self._blocked = False  # updates run by the blocked steps (self._sample_steps)
        self._epoch_open = False  # between start_epoch and end_epoch
        self._threads_before: int | None = None  # the process's, while an epoch runs
        self._sample_steps = BlockedSampleSgd(self.params, lr, device, block)
        self._sample_steps.regions = self.regions
        # Seconds spent compiling: the kernel's (config.resolve adds it), and each
        # captured unit's first call. The loop leaves them out of the training time.
        self.compile_seconds = 0.0
        self._chunk_start = 0
        self._train_threads = torch.get_num_threads()
        self._units: dict[tuple, LazyUnit] = {}
        # Graph and compiled modes run a whole block of per-sample steps as one unit:
        # the block's steps wait until its last position, then run at once.
        self._deferred_block: int | None = None  # the waiting block's first position
        self._deferred_steps = 0

    def plan(self, chunks: Sequence[Chunk], ledger) -> None:
        super().plan(chunks, ledger)
        positions = chunks[-1].stop
        if positions != self._positions:  # a process's share of the set (torchrun)
            self._positions = positions
            self._onehot = torch.zeros(positions, CLASSES, device=self.device)
            self._logits = torch.zeros(positions, CLASSES, device=self.device)
        self.source.plan(positions)
        # The steps write each sample's logits: the ledger reads its losses from them.
        ledger.keep_logits(self._logits, self._onehot, self.flush_steps)
        first = chunks[0]
        # Blocked steps (the first layer's updates deferred a block at a time): per-sample
        # SGD in every step mode, and in the kernel mode every update small enough for
        # its compiled steps (each chunk a whole update; the epoch's last may be smaller).
        # (Under torchrun each process's chunk is a share of an update, summed by an
        # all-reduce that only the chunk steps make.)
        samples = first.size if first.last and not self.world.distributed else 0
        kernel = self.step_mode is StepMode.kernel
        self._per_sample = samples == 1
        self._blocked = self._per_sample or (
            kernel and 1 <= samples <= self.kernel_samples(self.device.type)
        )
        cores = torch.get_num_threads()
        tiny = self._per_sample or (not self._blocked and 1 <= samples <= ONE_THREAD_SAMPLES)
        self._train_threads = 1 if tiny else cores
        if self.device.type == "cpu":  # the per-block GEMMs are big enough to share
            self._sample_steps.block_threads = cores
        if self._blocked and kernel:
            self._sample_steps = self._kernel_steps(samples)
            self._sample_steps.regions = self.regions
            # No torch op runs between the block GEMMs: they keep all cores for the epoch,
            # and the new object's block_threads stays None (no switch twice a block).
            self._train_threads = cores

    def _kernel_steps(self, samples: int) -> SampleSteps:
        """The kernel mode's steps for updates of `samples`, by `kernel_steps`: numba's
        compiled loop or Triton's kernels (compiled already, by config.resolve:
        prepare_kernel). A block holds whole updates: the most that fit in the eager
        block, or one."""
        block = samples * max(1, self._sample_steps.block // samples)
        if self.kernel_steps.get(self.device.type) == "triton":
            from mnist_rules.engines.tuned.triton_sample_sgd import TritonSampleSgd

            return TritonSampleSgd(self.params, self.lr, self.device, block, samples)
        from mnist_rules.engines.tuned.numba_sample_sgd import NumbaSampleSgd

        return NumbaSampleSgd(self.params, self.lr, self.device, block, samples)

    def _unit(self, key: tuple, make: Callable[[], Callable[[], None]]) -> LazyUnit:
        """The unit for `key`, its function made by `make` on first use. `state`: what
        a graph capture's warm-up changes and must give back."""
        if key not in self._units:
            p, sgd = self.params, self._sample_steps
            state = [*p.tensors, *p.grads, sgd.w2a, sgd.w3a]
            fn = make()
            if self.step_mode is StepMode.compiled:
                mark_static(self._static_tensors(fn))
            self._units[key] = LazyUnit(fn, self.step_mode, self.device, state, self)
        return self._units[key]

    def _static_tensors(self, fn: Callable[[], None]) -> list[torch.Tensor]:
        """Every tensor a unit can touch, all at fixed addresses: the parameters and
        their gradients, this engine's buffers, the per-sample steps' and the input
        source's, and the unit's own (its closure's)."""
        p = self.params
        found = [*p.tensors, *p.grads, self._onehot, self._logits, self._start, self._arange]
        for holder in (self._sample_steps, self.source):
            found += [v for v in vars(holder).values() if isinstance(v, torch.Tensor)]
        cells = fn.__closure__ or ()
        found += [c.cell_contents for c in cells if isinstance(c.cell_contents, torch.Tensor)]
        return found

    def start_epoch(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> None:
        with self.regions(EPOCH_START):  # a copy an epoch: not profile's per-step transfer
            self.source.start_epoch(order)
            # One-hot labels in training order, written into the buffer the row views see.
            labels = self.labels[order.to(self.device)]
            self._onehot.zero_().scatter_(1, labels.unsqueeze(1), 1.0)
        if self._blocked and chunks and not self.can_stop_at(chunks[0].start):
            raise ValueError(f"blocked steps resume at a block's start, not {chunks[0].start}")
        self._epoch_open = True  # from here on, end_epoch has something to undo
        if self.device.type == "cpu":  # the epoch's threads; end_epoch gives them back
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self._train_threads)
        if self._blocked:
            self._sample_steps.begin()

    def batches(self, order: torch.Tensor, chunks: Sequence[Chunk]) -> Iterator:
        if not self._blocked:  # the data is on the device: positions are enough
            return ((c.start, c.stop) for c in chunks)
        if self.step_mode is StepMode.kernel:  # its steps take their rows a block at a time
            return (() for _ in chunks)
        if self._rows is None:  # 2 x 60,000 views (0.25 s): made once, not every epoch
            self._rows = list(zip(self._onehot.unbind(0), self._logits.unbind(0), strict=True))
        return (self._rows[c.start] for c in chunks)  # (one-hot label, logits out)

    def end_epoch(self) -> None:
        if not self._epoch_open:
            return
        self._epoch_open = False
        try:
            if self._blocked:  # the model holds every step taken, also when stopped early
                self._run_deferred_steps()
                self._sample_steps.end()
        finally:
            if self._threads_before is not None:
                torch.set_num_threads(self._threads_before)
                self._threads_before = None

    def _chunk_fn(self, size: int, weight: float, apply: bool) -> Callable[[], None]:
        """One chunk's forward, backward and update: from position self._chunk_start
        (eager), or from the device's self._start (a captured unit)."""
        sync = None
        if self.world.distributed:  # one all-reduce per update, of all six gradients
            import torch.distributed as dist

            sync = lambda: dist.all_reduce(self.params.flat_grad)  # noqa: E731 (a sum)
        step = lambda x, onehot, logits: chunk_step(  # noqa: E731
            self.params, x, onehot, logits, weight, self.lr, apply, self.regions, sync
        )

        def eager() -> None:  # the chunk's rows are slices: no gather, no scatter
            start = self._chunk_start
            x = self.source.inputs(start, size)
            step(x, self._onehot[start : start + size], self._logits[start : start + size])

        if not self.step_mode.captures:
            return eager
        logits = torch.empty(size, CLASSES, device=self.device)

        def captured() -> None:  # a replay cannot read the host: positions on the device
            pos = self._arange[:size] + self._start
            step(self.source.at(pos), self._onehot[pos], logits)
            self._logits.index_copy_(0, pos, logits)

        return captured

    def _start_block(self, i: int) -> None:
        """Per-sample steps: the block that starts at position `i` (the first layer's
        pending update applied, the new block's GEMMs run), or, in the graph and
        compiled modes, a whole block deferred to one unit at its end."""
        sgd = self._sample_steps
        size = min(sgd.block, self._positions - i)
        if self.step_mode.captures and size == sgd.block:  # one unit, at its end
            self._deferred_block, self._deferred_steps = i, 0
        else:  # eager or kernel, or the epoch's last, short block
            x = self.source.inputs(i, size, one_by_one=True)
            sgd.start_block(x, self._onehot[i : i + size], self._logits[i : i + size])

    def _block_fn(self) -> Callable[[], None]:
        """A whole block of per-sample steps from position self._start, first layer
        applied at its end."""
        sgd = self._sample_steps
        block = sgd.block
        onehot = torch.zeros(block, CLASSES, device=self.device)
        logits = torch.zeros(block, CLASSES, device=self.device)
        rows = list(zip(onehot.unbind(0), logits.unbind(0), strict=True))

        def run() -> None:
            pos = self._arange[:block] + self._start
            onehot.copy_(self._onehot[pos])
            sgd.next_block(self.source.at(pos))
            for row in rows:
                sgd.step(*row)
            sgd.finish_block()
            self._logits.index_copy_(0, pos, logits)

        return run

    def _run_deferred_steps(self) -> None:
        """A deferred block cut short (the loop stopped inside it): its steps so far,
        eagerly, so that the model is the one after every step the loop took."""
        start, steps = self._deferred_block, self._deferred_steps
        self._deferred_block, self._deferred_steps = None, 0
        if start is None or not steps:
            return
        sgd = self._sample_steps
        sgd.next_block(self.source.inputs(start, sgd.block))
        for i in range(start, start + steps):
            sgd.step(self._onehot[i], self._logits[i])
        self.ledger.trained_to(start + steps)

    def step(self, batch, chunk: Chunk) -> None:
        if not self._blocked:
            key = ("chunk", chunk.size, chunk.weight, chunk.last)
            unit = self._unit(key, lambda: self._chunk_fn(*key[1:]))
            if self.step_mode.captures:
                self._start.fill_(chunk.start)
            self._chunk_start = chunk.start
            unit()
            self.ledger.trained_to(chunk.stop)
            return
        if chunk.start % self._sample_steps.block == 0:
            self._start_block(chunk.start)
        if self.step_mode is StepMode.kernel:  # the update runs with its block's others
            self._sample_steps.take(chunk.size)
        elif self._deferred_block is None:
            self._sample_steps.step(*batch)
        else:
            self._deferred_steps += 1
            if self._deferred_steps < self._sample_steps.block:
                return  # waits for its block's unit: the ledger counts steps that ran
            unit = self._unit(("block", self._sample_steps.block), self._block_fn)
            self._start.fill_(self._deferred_block)
            unit()
            self._deferred_block, self._deferred_steps = None, 0
        self.ledger.trained_to(chunk.stop)

    def can_stop_at(self, position: int) -> bool:
        # Per-sample steps stop at a block's end only: the first layer's updates are
        # one GEMM per block, so a block cut in two would sum them in another order.
        block = self._sample_steps.block
        return not self._blocked or position % block == 0 or position == self._positions

    def sync_model(self) -> None:
        if self._blocked:  # the pending first-layer update; layers 2 and 3 written back
            self._sample_steps.end()

    def flush_steps(self) -> None:
        if self._blocked:  # the kernel mode's steps taken since its last call
            self._sample_steps.run_pending()

    @torch.no_grad()
    def evaluate(self) -> float:
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        for start in range(0, len(self.test_images), EVAL_CHUNK):
            x = unit_floats(self.test_images[start : start + EVAL_CHUNK])
            labels = self.test_labels[start : start + EVAL_CHUNK]
            correct += (self.params.logits(x).argmax(1) == labels).sum()
        return 100.0 * correct.item() / len(self.test_images)

    @property
    def threads(self) -> int:
        return self._train_threads if self.device.type == "cpu" else torch.get_num_threads()
