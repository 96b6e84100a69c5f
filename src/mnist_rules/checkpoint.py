"""Checkpoints: what a run needs to go on exactly where it stopped, in one file.

A checkpoint holds only tensors and plain values (dicts, lists, numbers, strings), so
it loads with torch.load(weights_only=True): a file that carries any other pickled
object is refused before anything in it runs. It is written atomically (temporary
file, then rename), so a crash or a second Ctrl-C while saving leaves the previous
checkpoint whole.

Contents (TrainingRun.state_dict builds it):
  format, version   what this file is
  identity          what must match for a resume: rule, model, data, lr, batch size,
                    shuffle, seed, engine (checked by `check_identity`)
  model, sgd        the state_dicts of the model and of torch.optim.SGD
  rng               the shuffling generator's state and torch's global CPU RNG state
  position          finished epochs; samples, updates and seconds of the next one
  order             that epoch's sample order, when it is under way (else None)
  engine_progress   that epoch's loss bookkeeping, so that its loss comes out the same
  result            the RunResult so far (the finished epochs)
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnist_rules.atomic import atomic_path
from mnist_rules.errors import UsageError, UserError

FORMAT = "mnist-rules checkpoint"
VERSION = 1

# How to ask for each identity field on the command line, for the mismatch message.
_OPTIONS = {
    "rule": "--rule",
    "model": None,  # not an option: a checkpoint of another mnist-rules version's model
    "dataset": "--dataset",
    "train_size": "--train-subset",
    "data_sha256": None,  # the images themselves: reported as such
    "engine": "--engine",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "shuffle": None,  # --shuffle or --no-shuffle
    "shuffle_block": None,  # --data-mode resident, or --stream-block N
    "seed": "--seed",
}


@dataclass
class Checkpointer:
    """Where checkpoints go, and how often within an epoch (`every` updates; None: at
    the end of each epoch only)."""

    path: Path
    every: int | None = None
    last: str | None = None  # where the last one saved by this run stood, for messages

    def save(self, state: dict[str, Any]) -> None:
        write(self.path, state)
        at = state["position"]
        self.last = (
            f"at epoch {at['epochs'] + 1}, update {at['updates']:,}"
            if at["samples"]
            else f"after epoch {at['epochs']}"
        )


def write(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read(path: Path) -> dict[str, Any]:
    """Load a checkpoint, weights-only; refuse anything else with a clear message."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(str(exc))
        if not reason.startswith("Unsupported global"):  # not an object: not a pickle
            raise _unreadable(path, exc, reason) from exc
        raise UserError(
            f"--resume {path}: refused. The file holds pickled Python objects beyond"
            f" tensors and plain data ({reason}), and checkpoints are loaded"
            " with torch.load(weights_only=True) so that no code in a file runs. Use a"
            " checkpoint written by `mnist-rules train --checkpoint`."
        ) from exc
    except Exception as exc:  # torch's readers fail in many ways on a foreign file
        raise _unreadable(path, exc) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(
            f"--resume {path}: not an mnist-rules checkpoint (a torch file, but not one"
            " written by `mnist-rules train --checkpoint`)."
        )
    if state.get("version") != VERSION:
        raise UserError(
            f"--resume {path}: a version {state.get('version')} checkpoint; this"
            f" mnist-rules reads version {VERSION}. Resume it with the mnist-rules that"
            " wrote it, or start afresh."
        )
    return state


def check_identity(path: Path, saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse to resume a different run: another rule, model, data set or setting."""
    saved = {"shuffle_block": 0, **saved}  # before stream mode: always a full permutation
    differ = [key for key in wanted if saved.get(key) != wanted[key]]
    if not differ:
        return
    parts, fixes = [], []
    for key in differ:
        theirs = saved.get(key)
        if key == "data_sha256":
            parts.append(
                f"other training images (theirs hash to {str(theirs)[:12]}…, these to"
                f" {wanted[key][:12]}…)"
            )
            continue
        if key == "batch_size" and saved.get("rule") != "batch":
            continue  # follows from the rule (1 or the whole set): no option to give
        if key == "shuffle_block":
            parts.append(f"shuffled {_shuffle(theirs)} (this command: {_shuffle(wanted[key])})")
        else:
            parts.append(f"{key} {_show(theirs)} (this command: {_show(wanted[key])})")
        if key == "shuffle":
            fixes.append("--shuffle" if theirs else "--no-shuffle")
        elif key == "shuffle_block":
            if not theirs:
                fixes.append("--data-mode resident")
            else:
                fixes.append(f"--data-mode stream --stream-block {theirs}")
        elif _OPTIONS.get(key):
            fixes.append(f"{_OPTIONS[key]} {_show(theirs)}")
    raise UsageError(
        f"--resume {path}: the checkpoint is from a different run: {'; '.join(parts)}."
        " Resume it with the options it was written with"
        + (f" ({' '.join(fixes)})" if fixes else "")
        + ", or start afresh without --resume."
    )


def _unreadable(path: Path, exc: Exception, detail: str | None = None) -> UserError:
    if detail is None:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return UserError(
        f"--resume {path}: cannot be read as a checkpoint"
        f" ({type(exc).__name__}{': ' + detail if detail else ''})."
        " It may be truncated or not a checkpoint at all; give a file written by"
        " `mnist-rules train --checkpoint`."
    )


def _unpickler_reason(message: str) -> str:
    """torch's weights-only refusal is a page long; keep the sentence that says what
    the file held ("Unsupported global: GLOBAL os.system was not an allowed global")."""
    if "WeightsUnpickler error:" not in message:
        return message.strip().splitlines()[0] if message.strip() else "not a pickle"
    after = message.split("WeightsUnpickler error:", 1)[1].strip()
    reason = after.splitlines()[0] if after else "refused"
    return reason.split(" Please ", 1)[0].rstrip(". ")


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shuffle(block: int) -> str:
    return f"in blocks of {block:,} (stream mode)" if block else "as a full permutation"
