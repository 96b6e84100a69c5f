"""The persistent kernel's schedule is race-free: in a model of it (tests/
persistent_schedule.py: threads for programs, every global access logged with its
phase), no location one program writes is touched by another in the same phase, over
per-sample and small-batch ranges and shuffled interleavings; the model finds the race
a single slot for the partial sums would have, and one every program writing the
logits would; a program that never arrives makes the others give up, not hang, and
nothing is written back. Marked `triton` with the kernel's other tests (pytest -m
triton -k persistent); it needs no Triton itself."""

import pytest
import torch

from mnist_rules.engines.tuned.triton_persistent_steps import PersistentBuffers
from mnist_rules.engines.tuned.triton_sample_steps import zero_buffers
from persistent_schedule import Schedule

pytestmark = pytest.mark.triton
CPU = torch.device("cpu")


def schedule(samples: int, k0: int = 0, k1: int = 12, **kw) -> Schedule:
    """The real shapes (400 units in 13 programs of 32), a block of 12."""
    buffers = PersistentBuffers.around(zero_buffers(CPU, block=12, samples=samples))
    return Schedule(buffers, k0, k1, **kw)


@pytest.mark.parametrize(("samples", "k0", "k1"), [(1, 0, 12), (1, 5, 9), (4, 0, 11), (3, 3, 12)])
@pytest.mark.parametrize("seed", [0, 1])
def test_persistent_schedule_has_no_two_programs_on_one_location_in_one_phase(
    samples, k0, k1, seed
):
    model = schedule(samples, k0, k1)
    model.run(seed)
    assert model.finished == set(range(13))
    assert model.conflicts() == []
    assert model.interleaved()  # the threads did run side by side
    updates = -(-(k1 - k0) // samples)
    assert max(a.phase for a in model.log) == updates  # one barrier an update


def test_persistent_schedule_with_one_slot_for_the_partial_sums_races():
    """With one slot, a program writing the next update's partial sums meets another
    still reading this update's, in one phase: the model must see it."""
    model = schedule(1, slots=1)
    model.run(seed=0)
    races = model.conflicts()
    assert races and all(location[0] == "partial" for _, location, _ in races)


def test_persistent_schedule_with_every_program_writing_the_logits_races():
    model = schedule(2, logits_by="every program")
    model.run(seed=0)
    assert {location[0] for _, location, _ in model.conflicts()} == {"logits"}


def test_persistent_schedule_gives_up_without_writing_back_when_a_program_never_arrives():
    model = schedule(1)
    model.run(seed=0, patience=0.2, absent=7)
    assert model.finished == set()  # every program returned early
    assert not any(a.write and a.location[0] in {"w2", "w3", "b3", "b2"} for a in model.log)
    assert max(a.phase for a in model.log) == 0  # no access past the first barrier
