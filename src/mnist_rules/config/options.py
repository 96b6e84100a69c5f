"""Every option of every command, defined once: its flags, default, range and help.

`RUN` holds the settings of a training run (each is a TrainConfig field); `OUTPUT` the
files and printing. Each command's table (TRAIN, COMPARE, SWEEP, PROFILE) picks its
options from them, in the order its --help lists them, with another default or help
where the command needs one. The command line's options, the API's signatures and
checks, and TrainConfig are all built from these tables: adding an option is a row
here, the code that uses it, and its line in docs/api.md (docs/development.md).
No torch here: --help reads this module.
"""

from __future__ import annotations

from mnist_rules.config.rules import DEFAULT_BATCH_SIZE, RULES, batch_rules
from mnist_rules.config.spec import Choices, Options, Spec, choice, number, path, switch, text
from mnist_rules.data.mnist import DATA_DIR_ENV, DatasetName
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS, DataMode
from mnist_rules.device import DeviceChoice
from mnist_rules.engines.modes import EngineName, StepMode, Transfer


def _by_rule(value, whole: str = "", by_size: bool = False) -> str:
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
_batch_rules = " and ".join(batch_rules())

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
        help=f"Learning rate. Default: the reference {_by_rule(lambda r: f'{r.default_lr:g}')}.",
    ),
    "batch_size": number(
        "--batch-size",
        None,  # None: the rule's (100), or the whole set if it is smaller
        min=1,
        help=f"Samples per update for --rule {_batch_rules} (default {DEFAULT_BATCH_SIZE}).",
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
        " compiled (a numba loop per block on the CPU; fused Triton kernels on CUDA, one"
        " sample per update); larger updates are GEMMs and run as in eager. auto: the"
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
# compare's and sweep's grid: seeds, the learning rates per arm, and where it is kept.
# --tune-lr's grid: half-decades from 0.003 to 3. Measured on real MNIST, seed 0, 4 epochs
# (docs/sweep.md): the best rates were 0.01 (size 1), 0.1 (10), 0.3 (100) and 1 (1000 and
# all); at 3 sizes 1000 and all collapse (11.35% and 9.82%), so 1 is a best, not an edge.
DEFAULT_LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
DEFAULT_EVALS_IN_A_GRID = 5  # the test set read 5 times an epoch (measured: docs/sweep.md)
GRID: dict[str, Spec] = {
    "evals_per_epoch": RUN["evals_per_epoch"].but(
        default=DEFAULT_EVALS_IN_A_GRID,
        help="Read the test accuracy this many times an epoch, at evenly spaced updates,"
        " off the training clock: time to target is read at the first reading at or above"
        " it (a rule with fewer updates an epoch is read after each).",
    ),
    "seeds": text(
        "--seeds",
        None,  # None: --seed alone
        help="Seeds to run each arm with: 0,1,2, or N for 0 to N-1. Each seed starts every"
        " arm from the same weights; tables give medians with intervals. Default: --seed.",
    ),
    "lrs": text(
        "--lrs",
        None,
        help="Tune the learning rate of each arm over this grid (0.01,0.03,0.1): every lr on"
        " the first seed, each trial stopped at the target, the best (fewest samples to"
        " the target) rerun on every seed.",
    ),
    "tune_lr": switch(
        "--tune-lr",
        help="Tune the learning rate of each arm over the default grid ("
        + ",".join(f"{lr:g}" for lr in DEFAULT_LR_GRID)
        + "), as --lrs does.",
    ),
    "storage": text(
        "--storage",
        None,
        help="Keep the grid's trials in this database (Optuna's RDB storage, such as"
        " sqlite:///sweep.db): the same command resumes it after Ctrl-C or a kill, and"
        " processes given the same URL share it, each trial run once. Default: in memory.",
    ),
}
SHARED = {**RUN, **OUTPUT}


def _pick(*names: str) -> dict[str, Spec]:
    return {name: SHARED[name] for name in names}


DATA = ("device", "dataset", "data_dir", "train_subset")
STREAM = ("data_mode", "stream_block", "stream_buffers")

TRAIN = Options(
    "train",
    "Train the MLP with one update rule; print a line per epoch.",
    {
        **_pick("rule", "epochs", "evals_per_epoch", "lr", "batch_size", "shuffle", "engine"),
        **_pick(*STREAM),
        **_pick("step_mode", *DATA, "seed", "json_out"),
        "save": path("--save", dir_okay=False, help="Save the final weights (a state_dict) here."),
        "checkpoint": path(
            "--checkpoint",
            dir_okay=False,
            help="Save a checkpoint here after every epoch and when Ctrl-C or SIGTERM stops"
            " the run (atomically; resume it with --resume).",
        ),
        "checkpoint_every": number(
            "--checkpoint-every",
            None,
            min=1,
            help="Also save one every N updates within an epoch (batch and sample rules; the"
            " tuned engine's sample rule at the next block of 128).",
        ),
        "resume": path(
            "--resume",
            dir_okay=False,
            exists=True,
            help="Go on from this checkpoint: give the options of the run that wrote it; a"
            " larger --epochs trains on.",
        ),
        "require_acc": number(
            "--require-acc",
            None,
            float,
            min=0,
            max=100,
            help="Exit with code 1 if the final test accuracy (percent) is below this.",
        ),
        **_pick("quiet"),
    },
)

DEFAULT_ENGINE = RUN["engine"].default  # compare's, when neither --engine nor --engines does

COMPARE = Options(
    "compare",
    "Train with each rule from the same initial weights; compare time to accuracy.",
    {
        "epochs": RUN["epochs"].but(help="Epochs for each rule."),
        "rules": text(
            "--rules",
            ",".join(RULES),
            help="Rules to run, comma-separated, in the order to show them.",
        ),
        **_pick("target_acc"),
        **GRID,
        **{
            f"lr_{rule.name}": RUN["lr"].but(
                flags=(f"--lr-{rule.name}",),
                positive=False,  # checked after whether its rule is in --rules (compare)
                help=f"Learning rate of the {rule.name} rule (default {rule.default_lr:g}).",
            )
            for rule in RULES.values()
        },
        "batch_size": RUN["batch_size"].but(
            help=f"Samples per update of the {_batch_rules} rule (default {DEFAULT_BATCH_SIZE})."
        ),
        "update_losses": switch(
            "--update-losses",
            help="Record the loss of every update and plot it (a fourth panel; needs --plot).",
        ),
        "engine": RUN["engine"].but(
            default=None,  # None: the tuned engine, unless --engines names the engines
            help=f"{ENGINE_HELP} Default: {DEFAULT_ENGINE.value}, unless --engines names the"
            " engines.",
        ),
        "engines": text(
            "--engines",
            None,
            help="Run each rule on each of these engines, comma-separated (torch,tuned), all"
            " from the same initial weights and order; in place of --engine.",
        ),
        **_pick("step_mode", *DATA, *STREAM, "seed", "plot"),
        "json_out": OUTPUT["json_out"].but(
            help="Write every run's results and the verdict's data."
        ),
        **_pick("csv_out", "quiet"),
    },
)

SWEEP = Options(
    "sweep",
    "Train with each update size from the same initial weights; where does the trade-off"
    " between accuracy and time lie?",
    {
        "sizes": text(
            "--sizes",
            "1,10,100,1000,all",
            help="Samples per update to train with, comma-separated: numbers, and all for the"
            " whole training set (one update per epoch).",
        ),
        "epochs": RUN["epochs"].but(default=5, help="Epochs for each size."),
        **_pick("target_acc"),
        **GRID,
        "lr": RUN["lr"].but(
            help="One learning rate for every size (default: the reference's, 0.01 for one"
            " sample per update and 0.1 for more)."
        ),
        "shuffle": RUN["shuffle"].but(
            help="Reshuffle every epoch (default: as the rules do: one sample per update in"
            " dataset order, larger updates reshuffled).",
        ),
        **_pick("engine", "step_mode", *DATA, "data_mode", "seed"),
        "plot": OUTPUT["plot"].but(help="Write the figure here (.png, .svg or .pdf)."),
        "json_out": OUTPUT["json_out"].but(help="Write every run's results and time to target."),
        "csv_out": OUTPUT["csv_out"].but(help="Write one row per size per epoch."),
        **_pick("quiet"),
    },
)

PROFILE = Options(
    "profile",
    "Measure where one update step's time goes: data, transfer, compute, overhead.",
    {
        "rule": RUN["rule"].but(default="sample", help="The update rule to profile."),
        **_pick("batch_size", "engine", "step_mode", "device"),
        "steps": number(
            "--steps",
            None,  # None: the rule's (config/rules.py)
            min=1,
            help="Update steps to profile. Default: "
            + _by_rule(lambda r: f"{r.profile_steps:,}", "an update is a whole epoch", by_size=True)
            + ".",
        ),
        "warmup": number(
            "--warmup",
            None,
            min=0,
            help="Update steps before measuring. Default: "
            + _by_rule(lambda r: f"{r.profile_warmup:,}", by_size=True)
            + ".",
        ),
        "transfer": RUN["transfer"],
        "pinned": RUN["pinned"].but(default=None),  # None: pageable
        "compare_transfers": switch(
            "--compare-transfers",
            help="Profile all four of per-step/resident x pinned/pageable and print them as"
            " one table (CUDA only).",
        ),
        "trace": path("--trace", dir_okay=False, help="Write a Chrome/Perfetto trace here."),
        "trace_steps": number(
            "--trace-steps",
            None,
            min=1,
            help="Update steps in the trace (default 100, at most --steps): a long trace is"
            " hundreds of MB.",
        ),
        "json_out": OUTPUT["json_out"].but(help="Write the figures as JSON here (atomically)."),
        **_pick(*STREAM, "dataset", "data_dir", "train_subset", "seed", "quiet"),
    },
)

COMMANDS = {options.command: options for options in (TRAIN, COMPARE, SWEEP, PROFILE)}
