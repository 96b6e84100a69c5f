"""How times are written: to a fixed number of decimals, but never as 0.0 s."""

from __future__ import annotations


def seconds(value: float, places: int = 1, width: int = 0) -> str:
    """`value` seconds with `places` decimals; under 0.1 s, two significant figures
    instead (0.043, not 0.0), which tiny sets and fast engines reach."""
    text = f"{value:.2g}" if 0 < value < 0.1 else f"{value:.{places}f}"
    return text.rjust(width)
