"""How times are written: to a fixed number of decimals, but never as 0.0 s."""

from __future__ import annotations

import math


def seconds(value: float, places: int = 1, width: int = 0) -> str:
    """`value` seconds with `places` decimals; under 0.1 s, two significant figures
    instead (0.043, not 0.0), which tiny sets and fast engines reach."""
    text = significant(value) if 0 < value < 0.1 else f"{value:.{places}f}"
    return text.rjust(width)


def significant(value: float, figures: int = 2) -> str:
    """`value` to `figures` significant figures in plain notation (0.000052, not 5.2e-05;
    100, not 1e+02)."""
    if value == 0:
        return "0"
    rounded = float(f"{value:.{figures}g}")
    digits = max(0, figures - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{digits}f}"


def duration(seconds: float) -> str:
    """Two significant figures, in a unit that keeps them readable: 23 µs, 1.5 ms, 0.75 s
    (5.0 ns: a GPU's cost of one sample)."""
    rounded = float(significant(seconds).replace(",", ""))  # 99.97 ms is 100 ms, not 1e+02
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if rounded >= scale or unit == "ns":
            return f"{significant(rounded / scale)} {unit}"
    raise AssertionError("unreachable")
