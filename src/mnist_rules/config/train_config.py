"""A run's configuration, TrainConfig: one field per run setting of config/options.py
(`RUN`: the same names, defaults and checks as the command line's), and two that only
Python sets. Built from the table, so that a new run option is a row there and nothing
here. No torch at import (a config's check reads its engine's class: config.resolve).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from mnist_rules.config import resolve
from mnist_rules.config.options import RUN
from mnist_rules.config.rules import RULES
from mnist_rules.config.spec import Spec

# The most samples in one forward/backward pass: bounds activation memory (about 6 MB
# at 1000) whatever the update size, so the full-batch rule never holds N activations.
DEFAULT_CHUNK_SIZE = 1000

# Fields only Python sets, checked as the options are.
EXTRA = {
    "chunk_size": Spec(("chunk_size",), DEFAULT_CHUNK_SIZE, int, min=1),
    # Keep every update's loss (on the device; copied to the host once per epoch).
    "record_update_losses": Spec(("record_update_losses",), False, bool),
}


class _Checked:
    """TrainConfig's behaviour; its fields are made from the tables below."""

    def __post_init__(self) -> None:
        # Each field checked as the command line checks its option (plain strings are
        # accepted too: "batch", "cpu"); then the rule's defaults filled in.
        for name, spec in {**RUN, **EXTRA}.items():
            setattr(self, name, spec.check(getattr(self, name)))
        rule = RULES[self.rule]  # a name --rule's check let through
        if self.lr is None:
            self.lr = rule.default_lr
        if self.shuffle is None:
            self.shuffle = rule.shuffle_by_default
        resolve.refuse(self)  # the combinations no fallback can mend, before any data

    @property
    def rule_entry(self):
        """The rule's entry (config/rules.py): every fact about it."""
        return RULES[self.rule]

    @classmethod
    def from_options(cls, options: SimpleNamespace | dict[str, Any], **overrides: Any):
        """The run a command's checked options describe: every field the command has an
        option for, from it; the rest from `overrides` or the defaults."""
        given = vars(options) if isinstance(options, SimpleNamespace) else dict(options)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in given.items() if k in names} | overrides)


TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [
        (name, spec.annotation, dataclasses.field(default=spec.default))
        for name, spec in {**RUN, **EXTRA}.items()
    ],
    bases=(_Checked,),
    namespace={"__module__": __name__},
)
TrainConfig.__doc__ = """A training run's settings: `train`'s options by the same names and
defaults (docs/api.md), plus `chunk_size` (the most samples in one forward/backward pass)
and `record_update_losses`. lr and shuffle None: the rule's."""
