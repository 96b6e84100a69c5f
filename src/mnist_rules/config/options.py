"""Every option of every command, defined once: its flags, default, range and help.

`RUN` holds the settings of a training run (each is a TrainConfig field); `OUTPUT` the
files and printing (both in config/run_options.py). Each command's table (TRAIN,
COMPARE, SWEEP, PROFILE, NOISE_SCALE) picks its options from them, in the order its
--help lists them, with another default or help where the command needs one. The
command line's options, the API's signatures and checks, and TrainConfig are all built
from these tables: adding an option is a row here (or in run_options.py), the code that
uses it, and its line in docs/api.md (docs/development.md). No torch here: --help reads
this module.
"""

from __future__ import annotations

from mnist_rules.config.rules import DEFAULT_BATCH_SIZE, RULES
from mnist_rules.config.run_options import ENGINE_HELP, OUTPUT, RUN, batch_rule_names, by_rule
from mnist_rules.config.spec import Options, Spec, number, path, switch, text

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
            help=f"Samples per update of the {batch_rule_names} rule"
            f" (default {DEFAULT_BATCH_SIZE})."
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

# The images the noise scale is measured over. 10,000 took 0.3-0.4 s a point on 2 cores
# (float64); at seed 0's initial weights five draws of them gave B_simple 126.6-131.8,
# against 128.4 over all 60,000 (docs/theory.md).
DEFAULT_NOISE_SAMPLES = 10_000
NOISE_SAMPLES = number(
    "--samples",
    DEFAULT_NOISE_SAMPLES,
    min=2,
    help="Training images to measure over, drawn once from --seed (capped at the training set).",
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
        "engine": COMPARE["engine"],
        "engines": COMPARE["engines"].but(
            help="Run each size on each of these engines, comma-separated (torch,tuned), all"
            " from the same initial weights; in place of --engine. The model then says why"
            " their best sizes differ (docs/theory.md).",
        ),
        **_pick("step_mode", *DATA, "data_mode", "seed"),
        "plot": OUTPUT["plot"].but(help="Write the figure here (.png, .svg or .pdf)."),
        "noise_samples": NOISE_SAMPLES.but(
            flags=("--noise-samples",),
            min=0,
            help="Measure the gradient noise scale along the fastest size's training over this"
            " many training images, set beside the fitted B_crit (docs/theory.md); 0: do not.",
        ),
        "json_out": OUTPUT["json_out"].but(
            help="Write every run's results, time to target and the fitted model."
        ),
        "csv_out": OUTPUT["csv_out"].but(help="Write one row per size per epoch."),
        **_pick("quiet"),
    },
)

NOISE_SCALE = Options(
    "noise-scale",
    "Measure the gradient noise scale B_simple at the initial weights and after each epoch"
    " of a training run.",
    {
        "samples": NOISE_SAMPLES,
        **_pick("rule", "lr", "batch_size", "shuffle", "engine", "step_mode"),
        "epochs": RUN["epochs"].but(
            default=2,
            min=0,
            help="Epochs to train, measuring after each (0: the initial weights only).",
        ),
        **_pick(*DATA, "seed", "json_out"),
        "plot": OUTPUT["plot"].but(help="Write B_simple, |G|² and tr(Σ) against training here."),
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
            + by_rule(lambda r: f"{r.profile_steps:,}", "an update is a whole epoch", by_size=True)
            + ".",
        ),
        "warmup": number(
            "--warmup",
            None,
            min=0,
            help="Update steps before measuring. Default: "
            + by_rule(lambda r: f"{r.profile_warmup:,}", by_size=True)
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

COMMANDS = {options.command: options for options in (TRAIN, COMPARE, SWEEP, PROFILE, NOISE_SCALE)}
