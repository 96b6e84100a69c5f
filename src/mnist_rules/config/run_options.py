"""The settings every command shares, defined once: `RUN`, those of a training run (each
is a TrainConfig field, in its order), and `OUTPUT`, the files and printing. The
commands' tables (config/options.py) pick from them. No torch here: --help reads this
module."""

from __future__ import annotations

from mnist_rules.config.rules import DEFAULT_BATCH_SIZE, RULES, batch_rules
from mnist_rules.config.spec import Choices, Spec, choice, number, path, switch
from mnist_rules.data.mnist import DATA_DIR_ENV, DatasetName
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS, DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer


def by_rule(value, whole: str = "", by_size: bool = False) -> str:
    """A per-rule default in words, rules that share it together: "0.1 (epoch, batch),
    0.01 (sample)"; `whole` said of the
    rule whose update is the whole set: "2,000 (sample), 200 (batch), 2 (epoch: ...)"
    (`by_size`: the rules from the smallest updates up)."""
    rules = list(RULES.values())
    if by_size:
        rules.sort(key=lambda r: (r.one_update_per_epoch, r.samples or 0))
    groups: dict[str, list[str]] = {}
    for rule in rules:
        name = f"{rule.name}: {whole}" if whole and rule.one_update_per_epoch else rule.name
        groups.setdefault(value(rule), []).append(name)
    return ", ".join(f"{shown} ({', '.join(names)})" for shown, names in groups.items())


ENGINE_HELP = (
    "tuned: the same SGD with the data on the device, the backward written out and the"
    " updates fused (and per-sample SGD compiled, with --step-mode auto on the CPU). torch:"
    " plain PyTorch (DataLoader, autograd, optim.SGD), as the reference trains: the"
    " baseline every speed-up is measured against."
)
batch_rule_names = " and ".join(batch_rules())

# The settings of a training run: TrainConfig's fields, in its order.
RUN: dict[str, Spec] = {
    "rule": Spec(
        ("--rule",),
        "batch",
        Choices(lambda: RULES),
        help="; ".join(f"{rule.name}: {rule.help}" for rule in RULES.values()) + ".",
    ),
    "epochs": number("--epochs", 10, min=1, help="Passes over the training set."),
    "evals_per_epoch": number(
        "--evals-per-epoch",
        1,
        min=1,
        help="Read the test accuracy this many times an epoch, at evenly spaced updates (the"
        " last at the epoch's end), off the training clock; the weights are the same"
        " whatever the number.",
    ),
    "lr": number(
        "--lr",
        None,  # None: the rule's reference rate
        float,
        positive=True,
        help=f"Learning rate. Default: the reference {by_rule(lambda r: f'{r.default_lr:g}')}.",
    ),
    "batch_size": number(
        "--batch-size",
        None,  # None: the rule's (100), or the whole set if it is smaller
        min=1,
        help=f"Samples per update for --rule {batch_rule_names} (default {DEFAULT_BATCH_SIZE}).",
    ),
    "shuffle": switch(
        "--shuffle/--no-shuffle",
        default=None,  # None: the rule's (batch reshuffles, the others keep dataset order)
        help="Reshuffle every epoch. Default: on for "
        + ", ".join(r.name for r in RULES.values() if r.shuffle_by_default)
        + ", off (dataset order) otherwise.",
        show_default=False,
    ),
    "seed": number("--seed", 0, help="Seeds the weights and the shuffling."),
    "engine": choice("--engine", EngineName.tuned, help=ENGINE_HELP),
    "step_mode": choice(
        "--step-mode",
        StepMode.auto,
        help="How the tuned engine runs its steps. eager: op by op. graph: each step (a"
        " block of 128 per-sample steps, or one chunk) replayed as a CUDA graph (CUDA only)."
        " compile: through torch.compile. kernel: the steps of updates of 1 to 64 samples"
        " compiled (a numba loop per block on the CPU; fused Triton kernels on CUDA,"
        " MNIST_RULES_TRITON_SCHEDULE choosing two launches an update or one persistent"
        " launch a block); larger updates are GEMMs and run as in eager. auto: the"
        " fastest measured here: kernel on the CPU up to 50 samples per update, else"
        " eager. A mode that cannot run falls back to eager with a one-line warning.",
    ),
    "data_mode": choice(
        "--data-mode",
        DataMode.auto,
        help="resident: read the training set into memory. stream: memory-map it and"
        " stream it a block at a time (for sets larger than memory; the batch rule then"
        " shuffles blocks, and within them, not the whole set). auto: stream when the"
        " images would take more than half the available memory.",
    ),
    "stream_block": number(
        "--stream-block",
        STREAM_BLOCK,
        min=1,
        help="Stream mode: samples per block, the unit read, copied and shuffled.",
    ),
    "stream_buffers": number(
        "--stream-buffers",
        STREAM_BUFFERS,
        min=2,  # one trained on, one being read
        help="Stream mode: blocks in the ring of (pinned, on CUDA) buffers: one trained on,"
        " the others read ahead.",
    ),
    "transfer": choice(
        "--transfer",
        None,  # None: the engine's own way (torch: a copy per step; tuned: resident)
        Transfer,
        help="per-step: copy each step's input to the device on its own (the reference's"
        " way); resident: move the whole set once. Default: the engine's own way (torch:"
        " per-step, tuned: resident). CUDA only.",
    ),
    "pinned": switch(
        "--pinned/--pageable",
        default=False,  # profile's is None: pageable, unless --transfer is asked
        help="Copy from pinned (page-locked) or pageable host memory. Default: pageable."
        " CUDA only.",
        show_default=False,
    ),
    "device": choice("--device", DeviceChoice.auto, help="auto takes a CUDA GPU when present."),
    "dataset": choice("--dataset", DatasetName.mnist, help="Any set in MNIST's IDX format."),
    "data_dir": path(
        "--data-dir",
        file_okay=False,
        help=f"Where <Dataset>/raw/ lives or is downloaded to. Default: ${DATA_DIR_ENV}, else"
        " the per-user cache directory.",
    ),
    "train_subset": number(
        "--train-subset", None, min=1, help="Train on the first N training images (quick runs)."
    ),
}

# What a command writes and prints.
OUTPUT: dict[str, Spec] = {
    "target_acc": number(
        "--target-acc", 96.0, float, min=0, max=100, help="The test accuracy (percent) to race to."
    ),
    "json_out": path("--json", dir_okay=False, help="Write the results JSON here (atomically)."),
    "csv_out": path("--csv", dir_okay=False, help="Write one row per rule per epoch."),
    "plot": path("--plot", dir_okay=False, help="Write the curves here (.png, .svg or .pdf)."),
    "quiet": switch("--quiet", "-q", help="Print nothing but errors."),
}
