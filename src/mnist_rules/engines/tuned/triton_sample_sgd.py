"""Per-sample SGD in the `kernel` step mode on CUDA: the deferred blocked scheme
(deferred_sample_sgd.py, shared with numba_sample_sgd.py), its steps run as two fused
Triton launches per sample (triton_sample_steps.py). Layers 2 and 3 are updated in
place in the model's parameters.

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

from mnist_rules.engines.tuned import triton_sample_steps as steps
from mnist_rules.engines.tuned.capture import graph_capture
from mnist_rules.engines.tuned.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.errors import warn_fallback


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
        # The CUDA graph of a full block's launches, once made; whether to try.
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graphs = graphs and device.type == "cuda" and not steps.interpreting()
        self._full_blocks = 0  # full blocks run in one call, before the graph is made
        self.replays = 0  # full blocks replayed from the graph

    def _bind_rows(self, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        self.buffers.onehot[: len(onehot)].copy_(onehot)  # the graph reads this buffer
        self._rows = (onehot, logits)

    def _run(self, first: int, stop: int) -> None:
        """The steps' launches (a full block replayed from its graph), their logits
        copied out to the engine's rows."""
        if not (first == 0 and stop == self.block and self._replay()):
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
