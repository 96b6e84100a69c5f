"""Running one fixed piece of device work many times with less launch overhead: a CUDA
graph, or torch.compile, behind one call.

A *unit* is a function of no arguments that reads and writes only tensors whose
addresses never change (the engine's static buffers and the parameters); what varies
between calls (a start position) is written into a buffer first. That is what a CUDA
graph needs, and it lets the three step modes share one code path:

- eager: the function itself;
- graph: captured once into a torch.cuda.CUDAGraph, then replayed. Not on CPU (there
  is nothing to capture): there the unit is the function, which is how the tests run
  the graph mode's buffers and deferred steps on a machine without a GPU;
- compiled: torch.compile (mode "reduce-overhead" on CUDA: Inductor's kernels, replayed
  through its own CUDA graphs). It compiles at the first call; an error there falls
  back to eager with a one-line warning, as a failed capture does.

Capturing a graph needs a warm-up run outside it (cuBLAS workspaces, lazy init).
Warm-up runs are real updates, so the tensors they write are saved first and restored
after the capture: the first replay is the first update the model sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from mnist_rules.engines.modes import StepMode
from mnist_rules.errors import warn_fallback

Unit = Callable[[], None]

# Keyword arguments for torch.compile per device type. The tests swap in the
# "aot_eager" backend: it traces as Inductor would but needs no C++ compiler.
COMPILE_OPTIONS: dict[str, dict] = {"cuda": {"mode": "reduce-overhead"}, "cpu": {}}


def graph_capture(graph: torch.cuda.CUDAGraph) -> torch.cuda.graph:
    """The context that captures into `graph`, for every capture in the package. In
    "thread_local" error mode: the default, "global", fails the capture when any other
    thread makes a CUDA call unsafe during capture, and stream mode's reader thread
    copies blocks to the device while the kernel mode's steps are captured."""
    return torch.cuda.graph(graph, capture_error_mode="thread_local")


def capture_graph(fn: Unit, state: Sequence[torch.Tensor], warmup: int = 1) -> Unit:
    """`fn` as a CUDA graph's replay. `state`: every tensor `fn` changes that must
    survive (parameters, accumulated gradients), restored after the warm-up."""
    saved = [t.clone() for t in state]
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as capture wants
            for _ in range(warmup):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with graph_capture(graph):
            fn()
    finally:
        for tensor, copy in zip(state, saved, strict=True):
            tensor.copy_(copy)
    return graph.replay


class LazyUnit:
    """A unit made on its first call (so a run captures only the shapes it uses), and
    eager from then on if making it fails, with a one-line warning. The time spent making
    it is added to `owner.compile_seconds`: a graph's capture (its warm-up run included),
    or torch.compile's first call (which compiles, then runs once). An eager unit has
    nothing to make and adds nothing."""

    def __init__(
        self,
        fn: Unit,
        mode: StepMode,
        device: torch.device,
        state: Sequence[torch.Tensor],
        owner: Any = None,
    ):
        self.fn, self.mode, self.device, self.state = fn, mode, device, state
        self.owner = owner
        self._call: Unit | None = None

    def __call__(self) -> None:
        if self._call is not None:
            self._call()
            return
        start = time.perf_counter()
        self._call = self._make()
        made = self._call is not self.fn
        compiled = self.mode is StepMode.compiled and made
        if compiled:
            self._first_compiled_call()
        if made and self.owner is not None:
            self.owner.compile_seconds += time.perf_counter() - start
        if not compiled:  # the first replay or eager call: a step like any other
            self._call()

    def _first_compiled_call(self) -> None:
        """torch.compile is lazy: it compiles at the first call, where an error falls back
        to eager. The state is saved first, as a failed call may have changed some of it."""
        saved = [t.clone() for t in self.state]
        try:
            self._call()
        except Exception as error:  # Dynamo's and Inductor's errors have no common base
            for tensor, copy in zip(self.state, saved, strict=True):
                tensor.copy_(copy)
            warn_fallback("torch.compile failed", error, "this step runs eagerly")
            self._call = self.fn
            self.fn()

    def _make(self) -> Unit:
        if self.mode is StepMode.compiled:
            return torch.compile(self.fn, **COMPILE_OPTIONS.get(self.device.type, {}))
        if self.mode is StepMode.graph and self.device.type == "cuda":
            try:
                return capture_graph(self.fn, self.state)
            except RuntimeError as error:  # e.g. an op that cannot be captured
                warn_fallback("CUDA graph capture failed", error, "this step runs eagerly")
        return self.fn


def mark_static(tensors: Sequence[torch.Tensor]) -> None:
    """Tell torch.compile that these tensors keep their address from call to call.
    Its CUDA graphs (mode "reduce-overhead") are skipped for a function that mutates an
    input other than a parameter or a static buffer, and every unit mutates the
    engine's buffers; a unit's tensors are those it reads through its closure, which
    Dynamo lifts to inputs. On a CPU it only saves Dynamo a guard."""
    for tensor in tensors:
        torch._dynamo.mark_static_address(tensor)
