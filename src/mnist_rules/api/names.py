"""The names compare and sweep take in lists (--rules, --engines), and what the engines
named mean for a run's step mode."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from mnist_rules.config.options import DEFAULT_ENGINE
from mnist_rules.engines.modes import EngineName, StepMode
from mnist_rules.errors import UsageError


def parse_names(names: str | Sequence, kind, option: str, noun: str) -> list:
    """`--rules epoch,batch` (or `--engines torch,tuned`; in Python also a list of names
    or members) as a list of `kind` (an Enum, or the valid names), each once."""
    text = names if isinstance(names, str) else ",".join(_value(name) for name in names)
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid = ", ".join(_value(member) for member in kind)
    if not names:
        raise UsageError(f"{option} needs at least one of {valid}, separated by commas.")
    unknown = [n for n in names if n not in {_value(member) for member in kind}]
    if unknown:
        raise UsageError(f"{option}: unknown {noun} {unknown[0]!r}; choose from {valid}.")
    if len(set(names)) != len(names):
        raise UsageError(f"{option} {text}: each {noun} may be named once.")
    return [kind(n) for n in names] if isinstance(kind, type) else names


def _value(name) -> str:
    return name.value if isinstance(name, Enum) else str(name)


def engines_named(o) -> list[EngineName]:
    """The engines a grid runs each arm on: --engines, or --engine alone (default tuned)."""
    if o.engines is not None and o.engine is not None:
        raise UsageError("--engine and --engines both name the engines; give one of them.")
    if o.engines is not None:
        return parse_names(o.engines, EngineName, "--engines", "engine")
    return [o.engine or DEFAULT_ENGINE]


def step_mode_for(step_mode: StepMode, engine: EngineName, engines: int) -> StepMode:
    """With several engines, the step mode is for the engines that take it: the others
    run theirs (alone, an engine refuses a mode it does not take, as train does)."""
    from mnist_rules.engines.registry import engine_class  # torch: not at import

    takes_it = step_mode in engine_class(engine).step_modes
    return step_mode if takes_it or engines == 1 else StepMode.auto
