"""The API's functions take their command's options as keyword arguments, built from
the command's table (config/options.py): the signature (what help() and inspect show),
the defaults and the checks, so that an option is spelt once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from mnist_rules.config.spec import Options

R = TypeVar("R")


def takes(
    options: Options, returns: str
) -> Callable[[Callable[[SimpleNamespace], R]], Callable[..., R]]:
    """Make `body(o)`, where `o` holds every option checked (Options.check), into the
    API function `name(**options)`: keyword arguments only, each defaulted and checked
    as the command line checks it; an unknown one is a TypeError, as Python's."""

    def wrap(body: Callable[[SimpleNamespace], R]) -> Callable[..., R]:
        @functools.wraps(body)
        def api(**values: Any) -> R:
            return body(options.check(values))

        api.__signature__ = options.signature(returns)  # type: ignore[attr-defined]
        api.__doc__ = f"{options.summary} {body.__doc__ or ''}".strip()
        api.options = options  # type: ignore[attr-defined]  (the command line reads it)
        return api

    return wrap
