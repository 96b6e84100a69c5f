"""A model of the persistent kernel's schedule (engines/tuned/triton_kernels.py,
`persistent`), for tests/test_persistent_schedule.py: Python threads stand for the
programs, a lock-guarded counter for the grid barrier (its targets only increase, its
wait bounded, a flag when it gives up), and every global-memory access the kernel
makes is logged with the phase it falls in (how many barriers its program has passed)
and whether it writes.

A program can start its next update only once every program has arrived at the
barrier, so no access of phase m+1 happens before every access of phase m: the
schedule is race-free when, within each phase, no location written by one program is
touched by another. `conflicts` lists where that fails.

What the kernel touches, by its helpers (per update of n samples at s, the previous
one of n_prev at prev, program p owning layer 1's units R_p):
- finish_update: reads its own dh2 rows and act1[prev+j, R_p]; writes signal[prev+j, R_p];
- layer1_forward: reads gram[s+j, :s], signal[:s, R_p] and pre[s+j, R_p]; writes
  act1[s+j, R_p]; the partial sums: writes partial[slot, p, j];
- grid_barrier;
- head_update: reads partial[slot, q, j] of every program q and onehot[s+j]; writes its
  own dh2 rows, and logits[s+j] in program 0 alone;
- at the end, W2[:, R_p] written by each program, W3, b3 and b2 by program 0.
Sizes and shapes come from the real buffers (PersistentBuffers): an index outside them
fails the model.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from mnist_rules.engines.tuned.triton_persistent_steps import PersistentBuffers


@dataclass(frozen=True)
class Access:
    phase: int
    program: int
    location: tuple
    write: bool


class GridBarrier:
    """The kernel's barrier: arrivals counted, targets that only increase, a wait that
    gives up after `patience` seconds and sets the flag every program checks."""

    def __init__(self, patience: float):
        self.count, self.flag, self.patience = 0, False, patience
        self.lock = threading.Lock()

    def wait(self, target: int) -> bool:
        with self.lock:
            self.count += 1
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            with self.lock:
                if self.count >= target:
                    return True
                if self.flag:
                    return False
            time.sleep(0)
        with self.lock:
            self.flag = True
        return False


@dataclass
class Schedule:
    """The kernel's accesses for the range k0..k1 of `buffers`' block. `slots`: the
    partial sums' slots (the kernel's 2); `logits_by`: which programs write the logits
    (the kernel: program 0)."""

    buffers: PersistentBuffers
    k0: int
    k1: int
    slots: int = 2
    logits_by: str = "program 0"
    log: list[Access] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each buffer's shape, as far as the model indexes it."""
        b, pb = self.buffers.steps, self.buffers
        rows = b.pre.shape[0]
        return {
            "pre": tuple(b.pre.shape), "signal": tuple(b.signal.shape),
            "act1": tuple(b.act1.shape), "gram": tuple(b.gram.shape),
            "dh2": tuple(pb.dh2.shape[:2]), "partial": tuple(pb.partial.shape[:3]),
            "onehot": (rows,), "logits": (rows,), "w2": (b.w2.shape[1],),
            "w3": (), "b3": (), "b2": (),
        }  # fmt: skip

    @property
    def programs(self) -> int:
        return self.buffers.steps.programs

    def run(self, seed: int, patience: float = 10.0, absent: int | None = None) -> None:
        """Every program in a thread of its own (`absent`: one that never starts),
        their accesses shuffled by random yields."""
        barrier = GridBarrier(patience)
        threads = [
            threading.Thread(target=self._program, args=(p, barrier, random.Random(seed * 97 + p)))
            for p in range(self.programs)
            if p != absent
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _program(self, p: int, barrier: GridBarrier, rng: random.Random) -> None:
        b = self.buffers.steps
        samples, (_hidden2, hidden1) = b.samples, b.w2.shape
        units = range(p * b.rows, min((p + 1) * b.rows, hidden1))
        phase, shapes = 0, self.shapes

        def touch(buffer: str, index: tuple, write: bool = False) -> None:
            shape = shapes[buffer]
            assert len(index) == len(shape), (buffer, index)
            assert all(0 <= i < n for i, n in zip(index, shape, strict=True)), (buffer, index)
            with self.lock:
                self.log.append(Access(phase, p, (buffer, *index), write))
            if rng.random() < 0.02:
                time.sleep(0)  # let another program run here

        def finish(prev: int, n_prev: int) -> None:
            for j in range(n_prev):
                touch("dh2", (p, j))
                for c in units:
                    touch("act1", (prev + j, c))
                    touch("signal", (prev + j, c), write=True)

        s, prev, n_prev, arrivals = self.k0, self.k0, 0, 0
        while s < self.k1:
            n = min(samples, self.k1 - s)
            finish(prev, n_prev)
            slot = arrivals % self.slots
            for j in range(n):
                for i in range(s):
                    touch("gram", (s + j, i))
                    for c in units:
                        touch("signal", (i, c))
                for c in units:
                    touch("pre", (s + j, c))
                    touch("act1", (s + j, c), write=True)
                touch("partial", (slot, p, j), write=True)
            arrivals += 1
            passed = barrier.wait(arrivals * self.programs)
            phase += 1
            if not passed:
                return
            for j in range(n):
                for q in range(self.programs):
                    touch("partial", (slot, q, j))
                touch("onehot", (s + j,))
                touch("dh2", (p, j), write=True)
                if self.logits_by == "every program" or p == 0:
                    touch("logits", (s + j,), write=True)
            prev, n_prev, s = s, n, s + n
        finish(prev, n_prev)
        for c in units:
            touch("w2", (c,), write=True)
        if p == 0:
            for name in ("w3", "b3", "b2"):
                touch(name, (), write=True)
        self.finished.add(p)

    def conflicts(self) -> list[tuple]:
        """(phase, location, programs) wherever one program writes a location another
        touches in the same phase."""
        seen: dict[tuple, set[tuple[int, bool]]] = defaultdict(set)
        for a in self.log:
            seen[(a.phase, a.location)].add((a.program, a.write))
        found = []
        for (phase, location), touches in seen.items():
            programs = {p for p, _ in touches}
            if len(programs) > 1 and any(w for _, w in touches):
                found.append((phase, location, sorted(programs)))
        return found

    def interleaved(self) -> bool:
        """Whether some phase has one program's accesses on both sides of another's
        (the threads ran side by side, not one after another)."""
        runs: dict[int, list[int]] = defaultdict(list)  # per phase: programs, runs merged
        for a in self.log:
            if not runs[a.phase] or runs[a.phase][-1] != a.program:
                runs[a.phase].append(a.program)
        return any(len(set(r)) < len(r) for r in runs.values())
