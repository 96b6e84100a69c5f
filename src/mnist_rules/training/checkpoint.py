"""Checkpoints: what a run needs to go on exactly where it stopped, in one file.

A checkpoint holds only tensors and plain values (dicts, lists, numbers, strings), so
it loads with torch.load(weights_only=True): a file that carries any other pickled
object is refused before anything in it runs. It is written atomically (temporary
file, then rename), so a crash or a second Ctrl-C while saving leaves the previous
checkpoint whole.

Contents (`state_dict` builds it; `load_state_dict` puts it back into a run):
  format, version   what this file is
  identity          what must match for a resume: rule, model, data, lr, batch size,
                    shuffle, seed, engine (checked by `check_identity`)
  model, sgd        the state_dicts of the model and of torch.optim.SGD
  rng               the shuffling generator's state and torch's global CPU RNG state
  position          finished epochs; samples, updates and seconds of the next one
  order             that epoch's sample order, when it is under way (else None)
  losses            that epoch's loss ledger so far, so that its loss comes out the same
  result            the RunResult so far (the finished epochs)
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mnist_rules.atomic import atomic_path
from mnist_rules.config.options import RUN
from mnist_rules.config.rules import RULES
from mnist_rules.data.modes import STREAM_BLOCK
from mnist_rules.engines.modes import StepMode
from mnist_rules.errors import UsageError, UserError
from mnist_rules.model import LAYER_SIZES
from mnist_rules.training.results import EpochResult, Evaluation

if TYPE_CHECKING:
    from mnist_rules.data.mnist import MnistData
    from mnist_rules.training.loop import EpochProgress, TrainingRun

FORMAT = "mnist-rules checkpoint"
# 2: an epoch under way keeps its loss ledger ("losses"); version 1 kept each engine's
# own bookkeeping ("engine_progress"), so only its checkpoints between epochs resume.
VERSION = 2

# How to ask for each identity field on the command line, for the mismatch message.
_OPTIONS = {
    "rule": RUN["rule"].flag,
    "model": None,  # not an option: a checkpoint of another mnist-rules version's model
    "dataset": RUN["dataset"].flag,
    "train_size": RUN["train_subset"].flag,
    "data_sha256": None,  # the images themselves: reported as such
    "engine": RUN["engine"].flag,
    "lr": RUN["lr"].flag,
    "batch_size": RUN["batch_size"].flag,
    "shuffle": None,  # --shuffle or --no-shuffle
    "shuffle_block": None,  # --data-mode resident, or --stream-block N
    "seed": RUN["seed"].flag,
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
    if state.get("version") == 1 and not state.get("position", {}).get("samples"):
        state["version"] = VERSION  # between epochs: nothing of the ledger to carry over
    if state.get("version") != VERSION:
        raise UserError(
            f"--resume {path}: a version {state.get('version')} checkpoint; this"
            f" mnist-rules reads version {VERSION}. Resume it with the mnist-rules that"
            " wrote it, or start afresh."
        )
    return state


def identity(run: TrainingRun) -> dict[str, Any]:
    """What a checkpoint must share with `run` to be resumed by it."""
    r = run.result
    return {
        "rule": r.rule,
        "model": "-".join(map(str, LAYER_SIZES)),
        "dataset": r.dataset,
        "train_size": r.train_size,
        "data_sha256": run.data_sha256(),
        "engine": r.engine,
        "lr": r.lr,
        "batch_size": r.batch_size,
        "shuffle": r.shuffle,
        # The batch rule's shuffle: a full permutation (0), or blocks of this size.
        "shuffle_block": run.config.stream_block if run.streamed and r.shuffle else 0,
        "seed": r.seed,
    }


def data_sha256(data: MnistData) -> str:
    """A hash of the training images and labels in use (about 0.1 s)."""
    n, digest = data.train_size, hashlib.sha256()
    images = data.train_images
    mapped = getattr(data.train, "mapped", None)  # stream mode's file
    for lo in range(0, n, STREAM_BLOCK):  # the same digest as at once
        hi = min(lo + STREAM_BLOCK, n)
        digest.update(images[lo:hi].contiguous().numpy().data)
        if mapped is not None:  # read, then out of memory again
            mapped.release(lo, hi)
    digest.update(data.train.targets[:n].contiguous().numpy().data)
    return digest.hexdigest()


def state_dict(run: TrainingRun, progress: EpochProgress | None = None) -> dict[str, Any]:
    """The checkpoint of `run`: after its finished epochs, or mid-epoch at `progress`
    (the engine's model already synchronised). Tensors and plain values only."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "identity": identity(run),
        "model": run.engine.weights(),
        "sgd": run.engine.sgd_state(),
        "rng": {"order": run.order_rng.get_state(), "torch": torch.get_rng_state()},
        "position": {
            "epochs": len(run.result.epochs),
            "samples": progress.samples if progress else 0,
            "updates": progress.updates if progress else 0,
            "seconds": progress.seconds if progress else 0.0,
        },
        "order": progress.order.cpu().clone() if progress else None,
        "losses": progress.losses if progress else None,
        "result": run.result.to_dict(),
    }


def load_state_dict(run: TrainingRun, state: dict[str, Any], source: Path | str) -> None:
    """Make `run` go on from a checkpoint (read by `read`): refused unless it is from
    the same run (rule, model, data, settings), and at a point it can resume from."""
    check_identity(source, state["identity"], identity(run))
    theirs = StepMode(state["result"].get("step_mode", "eager")).value
    if theirs != run.result.step_mode:  # the same math, summed in another order
        warnings.warn(
            f"--resume {source}: the checkpoint's steps ran in {theirs} mode, this"
            f" run's in {run.result.step_mode} mode: it goes on with the same math,"
            f" but not bit for bit (give --step-mode {theirs} for that).",
            RuntimeWarning,
            stacklevel=3,
        )
    position = state["position"]
    finished, samples = position["epochs"], position["samples"]
    mid_epoch = samples > 0
    if run.config.epochs < finished + mid_epoch:
        raise UsageError(
            f"--resume {source}: the checkpoint has {finished} finished epochs"
            + (" and one under way" if mid_epoch else "")
            + f"; --epochs {run.config.epochs} asks for fewer. Give --epochs"
            f" {finished + mid_epoch} or more."
        )
    if mid_epoch and run.world.distributed:
        raise UsageError(
            f"--resume {source}: the checkpoint stopped in the middle of an epoch, and"
            " under torchrun each process trains a share of the epoch instead; resume"
            " it in one process (without torchrun) to the end of that epoch first."
        )
    boundaries = {c.stop for c in run.chunks if c.last}
    if mid_epoch and not (samples in boundaries and run.engine.can_stop_at(samples)):
        raise UsageError(
            f"--resume {source}: the checkpoint stopped at sample {samples:,} of its"
            " epoch, which is not a point this engine can resume from (the kernel step"
            " mode resumes at a block's end only); resume it with --step-mode eager, or"
            " with the mnist-rules that wrote it."
        )
    run.engine.model.load_state_dict(state["model"])
    run.engine.load_sgd_state(state["sgd"])
    run.order_rng.set_state(state["rng"]["order"])
    torch.set_rng_state(state["rng"]["torch"])
    run.result.epochs = [EpochResult(**e) for e in state["result"]["epochs"]]
    saved = state["result"].get("evaluations", [])  # none in a checkpoint from before 4
    run.result.evaluations = [Evaluation(**e) for e in saved]
    if mid_epoch:
        run.resume_at(state["order"], samples, position["updates"], position["seconds"],
                      state["losses"])  # fmt: skip


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
        if key == "batch_size" and not _takes_batch_size(saved.get("rule")):
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


def _takes_batch_size(rule: str | None) -> bool:
    """Whether --batch-size sets the rule's samples per update (an unknown rule's cannot)."""
    return rule in RULES and RULES[rule].takes_batch_size
