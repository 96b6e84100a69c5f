"""Per-sample SGD in the `kernel` step mode on CUDA: the blocked scheme of
engines.blocked_sample_sgd, its per-step ops replaced by two fused Triton launches per
sample (engines.triton_sample_steps).

As in the CPU's kernel mode (engines.kernel_sample_sgd), steps are taken lazily
(engines.deferred_sample_sgd), and layers 2 and 3 are updated in place in the model's
parameters.

The block's one-hot labels are copied into a static buffer at its start, and the
logits the steps write are copied out to the engine's rows after each call, so that a
whole block's launches can be captured once as a CUDA graph and replayed (on CUDA,
not under Triton's interpreter): a block run in one call replays it. The first full
block runs launch by launch (the warm-up: the kernels compiled, loaded and run once),
the second captures the graph and replays it. A block cut into several calls, and the
epoch's short last block, run launch by launch. If the capture fails: one warning, and
launches from then on.
"""

from __future__ import annotations

import torch

from mnist_rules.engines import triton_sample_steps as steps
from mnist_rules.engines.capture import graph_capture, warn_fallback
from mnist_rules.engines.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.mlp_steps import MlpParams
from mnist_rules.engines.regions import STEPS


class TritonSampleSgd(DeferredSampleSgd):
    """Per-sample SGD on `p` with each step two Triton launches; `p` is current after
    `end`. `rows`: layer 1's units per program (triton_sample_steps.ROWS unless given);
    `graphs`: replay a full block's launches as a CUDA graph (CUDA only)."""

    def __init__(
        self,
        p: MlpParams,
        lr: float,
        device: torch.device,
        block: int,
        *,
        rows: int | None = None,
        graphs: bool = True,
        **kw,
    ):
        missing = steps.available()
        if missing is not None:
            raise ImportError(missing)
        if device.type != "cuda" and not steps.interpreting():
            raise ValueError("the Triton steps run on CUDA (or on the CPU in its interpreter)")
        super().__init__(p, lr, device, block, **kw)
        self.buffers = steps.StepBuffers.around(
            self.pre, self.gram, self.signal, p.w2, p.b2, p.w3, p.b3, lr, rows
        )
        self._rows: tuple[torch.Tensor, torch.Tensor] | None = None  # the engine's rows
        self.ran = 0  # steps of the block that have run (of self.k taken)
        # The CUDA graph of a full block's launches, once made; whether to try.
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graphs = graphs and device.type == "cuda" and not steps.interpreting()
        self._full_blocks = 0  # full blocks run in one call, before the graph is made
        self.replays = 0  # full blocks replayed from the graph

    def start_block(self, x: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """Start a block: its images (K, 784) in training order, and the engine's one-hot
        labels and logits rows for the same positions."""
        self.next_block(x)
        self.buffers.onehot[: len(onehot)].copy_(onehot)
        self._rows = (onehot, logits)
        self.ran = 0

    def run_pending(self) -> None:
        """Run the steps taken since the last call, and copy their logits out."""
        if self.ran == self.k or self._rows is None:
            return
        with self.regions(STEPS):
            whole_block = self.ran == 0 and self.k == self.block
            if not (whole_block and self._replay()):
                steps.run_steps(self.buffers, self.ran, self.k)
            logits = self._rows[1]
            logits[self.ran : self.k].copy_(self.buffers.logits[self.ran : self.k])
        self.ran = self.k

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
        """The graph of steps 0..block-1 (nothing runs while capturing), or None with
        one warning if it cannot be made."""
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
