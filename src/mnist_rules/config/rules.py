"""The update rules, as data: every fact about a rule lives on its entry in RULES.

A rule is nothing but how many samples make one update: all N (epoch), b (batch) or 1
(sample). The loop and the engines never branch on a rule's name; the commands, the
tables and the plots read what they need from the entry (its default learning rate,
shuffling, colour, profile's window, whether --batch-size applies). Adding a rule is
adding an entry here (docs/development.md). No torch here: the CLI imports it for --help.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_BATCH_SIZE = 100
ALL = None  # samples per update: the whole training set


@dataclass(frozen=True)
class Rule:
    name: str  # how --rule, the results and the tables name it
    samples: int | None  # samples per update (ALL: the whole set), unless --batch-size
    default_lr: float
    shuffle_by_default: bool  # reshuffle every epoch, or keep dataset order
    summary: str  # the line that starts a run: "one update per mini-batch"
    help: str  # --rule's help: "one per mini-batch"
    colour: str  # its curves' colour in the plots (a matplotlib colour)
    # profile's default window: updates measured and warm-up updates before them.
    profile_steps: int
    profile_warmup: int
    takes_batch_size: bool = False  # --batch-size sets its samples per update

    def samples_per_update(self, train_size: int, batch_size: int | None = None) -> int:
        size = batch_size if self.takes_batch_size and batch_size else self.samples
        return train_size if size is ALL else min(size, train_size)

    def updates_per_epoch(self, train_size: int, batch_size: int | None = None) -> int:
        return math.ceil(train_size / self.samples_per_update(train_size, batch_size))

    @property
    def one_update_per_epoch(self) -> bool:
        return self.samples is ALL and not self.takes_batch_size

    @property
    def per_update(self) -> str:
        """What one update takes, in words: "every training image", "one image"."""
        if self.samples is ALL:
            return "every training image"
        return "one image" if self.samples == 1 else f"{self.samples:,} images"


# The reference setup: lr 0.1 / 0.1 / 0.01, mini-batches of 100 reshuffled every epoch,
# per-sample updates in dataset order. Profile's windows: an update of the epoch rule is
# a whole epoch.
RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("epoch", ALL, 0.1, False, "one update per epoch from the mean loss",
             "one update per epoch (full batch)", "tab:blue", 2, 1),
        Rule("batch", DEFAULT_BATCH_SIZE, 0.1, True, "one update per mini-batch",
             "one per mini-batch", "tab:orange", 200, 10, takes_batch_size=True),
        Rule("sample", 1, 0.01, False, "one update per image",
             "one per image", "tab:green", 2000, 100),
    )
}  # fmt: skip


def rule_for_size(size: int | None) -> Rule:
    """The rule `sweep` trains a size with: the entry with exactly that many samples per
    update (ALL: the whole set), with its learning rate and shuffling; else the one
    --batch-size sets. (An entry of ten samples per update would train size 10.)"""
    for rule in RULES.values():
        if rule.samples == size and (size is ALL) == rule.one_update_per_epoch:
            return rule
    return next(rule for rule in RULES.values() if rule.takes_batch_size)


def batch_rules() -> list[str]:
    """The rules --batch-size applies to."""
    return [rule.name for rule in RULES.values() if rule.takes_batch_size]
