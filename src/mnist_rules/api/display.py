"""How a result shows itself in a notebook or a rich console: as the tables and lines the
command prints (its `parts`), and as a pandas DataFrame of its rows.

A result lists its parts as (renderable, soft_wrap) pairs, which the commands print one
by one (tables are laid out to the console's width; a paragraph is left for the terminal
to wrap). The same pairs render to HTML for Jupyter and to plain text for IPython's
text display. rich and pandas are imported when something is shown, not before.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

# Jupyter's rendering of rich output (rich.jupyter): a scrolling <pre>, styles inline.
HTML = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal;font-family:Menlo,'
    "'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>"
)
Parts = list[tuple[Any, bool]]


def render(parts: Parts, width: int, html: bool) -> str:
    from rich.console import Console

    console = Console(
        record=True,
        file=io.StringIO(),  # recorded, not written anywhere
        width=width,
        force_jupyter=False,
        color_system="truecolor",
        highlight=False,
    )
    for renderable, soft_wrap in parts:
        console.print(renderable, soft_wrap=soft_wrap)
    if html:
        return console.export_html(inline_styles=True, code_format=HTML)
    # Tables pad their lines to the width: trailing blanks a reader never sees.
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).rstrip()


def dataframe(rows: Sequence[dict[str, Any]]):
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "to_dataframe() needs pandas, which is not installed here: install it with"
            " `python3 -m pip install pandas`, or read the same figures from to_dict()."
        ) from None
    return pandas.DataFrame(list(rows))


class Shown:
    """The display protocol of every result: `parts()` and `rows()` say what to show."""

    width = 170  # compare's thirteen columns fit

    def parts(self) -> Parts:
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def to_dataframe(self):
        """The result's rows (the CSV's columns) as a pandas DataFrame; pandas must be
        installed."""
        return dataframe(self.rows())

    def __rich__(self):
        from rich.console import Group

        return Group(*(renderable for renderable, _ in self.parts()))

    def _repr_html_(self) -> str:
        return render(self.parts(), self.width, html=True)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # IPython's plain-text display: the table, not the dataclass's every field.
        printer.text(render(self.parts(), self.width, html=False))
