"""SGD with 1 to MAX_SAMPLES samples per update in the `kernel` step mode on CUDA: the
deferred blocked scheme (deferred_sample_sgd.py, shared with numba_sample_sgd.py), its
updates run as Triton kernels in one of two schedules (SCHEDULE_ENV chooses):

- `two-launch` (the default until a GPU run measures the other faster): two fused
  launches an update (triton_sample_steps.py). The block's one-hot labels are copied
  into a static buffer at its start, and the logits the steps write are copied out to
  the engine's rows after each call, so that a whole block's launches can be captured
  once as a CUDA graph and replayed (on CUDA, not under Triton's interpreter): a block
  run in one call replays it. The first full block runs launch by launch (the warm-up:
  the kernels compiled, loaded and run once), the second captures the graph and
  replays it. A block cut into several calls, and the epoch's short last block, run
  launch by launch. If the capture fails: one warning, and launches from then on.
- `persistent`: one launch a call (triton_persistent_steps.py). If the GPU has fewer
  SMs than the launch has programs, or a launch's grid barrier gives up: one warning,
  and two launches an update from then on (that call's range included).

Layers 2 and 3 are updated in place in the model's parameters.
"""

from __future__ import annotations

import os
import warnings

import torch

from mnist_rules.engines.tuned import triton_persistent_steps as persistent
from mnist_rules.engines.tuned import triton_sample_steps as steps
from mnist_rules.engines.tuned.capture import graph_capture
from mnist_rules.engines.tuned.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.numba_batch_steps import MAX_SAMPLES
from mnist_rules.errors import warn_fallback

# Which schedule the Triton steps run: "two-launch" (the default) or "persistent".
SCHEDULE_ENV = "MNIST_RULES_TRITON_SCHEDULE"
SCHEDULES = ("two-launch", "persistent")


def schedule_from_env(warn: bool = True) -> str:
    """The schedule SCHEDULE_ENV names; an unknown name means the default (and a
    warning, with `warn`)."""
    name = os.environ.get(SCHEDULE_ENV, SCHEDULES[0]).strip() or SCHEDULES[0]
    if name not in SCHEDULES:
        if warn:
            warnings.warn(
                f"{SCHEDULE_ENV}={name!r} is not one of {', '.join(SCHEDULES)}; the Triton"
                f" steps run as {SCHEDULES[0]}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return SCHEDULES[0]
    return name


class TritonSampleSgd(DeferredSampleSgd):
    """SGD on `p` with `samples_per_update` samples an update (a block holds whole
    updates), each update Triton's kernels; `p` is current after `end`. `rows`: layer
    1's units per program (triton_sample_steps.ROWS unless given); `graphs`: replay a
    full block's launches as a CUDA graph (CUDA only, two-launch schedule); `schedule`:
    SCHEDULES' (SCHEDULE_ENV's unless given); `spins`: the persistent barrier's bound."""

    def __init__(
        self,
        p: MlpParams,
        lr: float,
        device: torch.device,
        block: int,
        samples_per_update: int = 1,
        *,
        rows: int | None = None,
        graphs: bool = True,
        schedule: str | None = None,
        spins: int = persistent.SPINS,
        **kw,
    ):
        missing = steps.available()
        if missing is not None:
            raise ImportError(missing)
        if device.type != "cuda" and not steps.interpreting():
            raise ValueError("the Triton steps run on CUDA (or on the CPU in its interpreter)")
        self.check_samples("the Triton steps", block, samples_per_update, MAX_SAMPLES)
        super().__init__(p, lr, device, block, **kw)
        self.samples_per_update = samples_per_update
        self.buffers = steps.StepBuffers.around(
            self.pre, self.gram, self.signal, p.w2, p.b2, p.w3, p.b3, lr, rows,
            samples_per_update,
        )  # fmt: skip
        # The persistent launch's buffers, while that schedule runs (a compile that
        # failed was said once already; a give-up drops them).
        self._persistent: persistent.PersistentBuffers | None = None
        if (schedule or schedule_from_env()) == "persistent" and persistent.unusable is None:
            self._persistent = self._persistent_buffers(device, spins)
        self._rows: tuple[torch.Tensor, torch.Tensor] | None = None  # the engine's rows
        # The CUDA graph of a full block's launches, once made; whether to try.
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graphs = graphs and device.type == "cuda" and not steps.interpreting()
        self._full_blocks = 0  # full blocks run in one call, before the graph is made
        self.replays = 0  # full blocks replayed from the graph

    @property
    def schedule(self) -> str:
        """The schedule the steps run now: one of SCHEDULES."""
        return "persistent" if self._persistent is not None else "two-launch"

    def _persistent_buffers(self, device, spins) -> persistent.PersistentBuffers | None:
        """The persistent launch's buffers, or None (one warning) where its programs
        cannot all be resident."""
        resident = persistent.resident_programs(device)
        if resident < self.buffers.programs:
            self._give_up_persistent(
                ValueError(f"{self.buffers.programs} programs, {resident} SMs"),
                "the grid barrier needs every program resident",
            )
            return None
        return persistent.PersistentBuffers.around(self.buffers, spins)

    def _give_up_persistent(self, error: BaseException, what: str) -> None:
        warn_fallback(f"--step-mode kernel: {what}", error, "two launches an update from now on")
        self._persistent = None

    def _bind_rows(self, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        self.buffers.onehot[: len(onehot)].copy_(onehot)  # the graph reads this buffer
        self._rows = (onehot, logits)

    def _run(self, first: int, stop: int) -> None:
        """The updates' launches (one persistent launch, or a full block replayed from
        its graph, or launch by launch), their logits copied out to the engine's rows."""
        pb = self._persistent
        if pb is not None:
            try:
                if not persistent.run_persistent(pb, first, stop):
                    self._give_up_persistent(
                        TimeoutError(f"no arrival within {pb.spins} reads"),
                        "the persistent launch's grid barrier gave up",
                    )
            except Exception as error:  # a compile or launch error: Triton's have no base
                persistent.restore(pb)
                self._give_up_persistent(error, "the persistent launch failed")
        if self._persistent is None and not (first == 0 and stop == self.block and self._replay()):
            steps.run_steps(self.buffers, first, stop)
        self._rows[1][first:stop].copy_(self.buffers.logits[first:stop])

    def _replay(self) -> bool:
        """A full block's launches from the CUDA graph: False where there is none (yet),
        and the caller launches them one by one."""
        if not self._graphs:
            return False
        if self._graph is None:
            self._full_blocks += 1
            if self._full_blocks < 2:  # the first full block is the warm-up
                return False
            self._graph = self._capture()
            if self._graph is None:
                self._graphs = False
                return False
        self._graph.replay()
        self.replays += 1
        return True

    def _capture(self) -> torch.cuda.CUDAGraph | None:
        """The graph of the block's launches (nothing runs while capturing), or None
        with one warning if it cannot be made."""
        graph = torch.cuda.CUDAGraph()
        try:
            with graph_capture(graph):
                steps.run_steps(self.buffers, 0, self.block)
        except Exception as error:  # Triton's and CUDA's errors have no common base
            warn_fallback(
                "--step-mode kernel: CUDA graph capture of the Triton steps failed",
                error,
                "they run launch by launch",
            )
            return None
        return graph
