"""docs/tutorial.ipynb, executed: top to bottom in a fresh kernel (nbclient, ipykernel),
and the accuracies it prints, which a fresh run must reproduce.

    python3 tests/tutorial_notebook.py    # re-run it and write its outputs back (~2 min)

The notebook reads real MNIST from $MNIST_RULES_REAL_DATA, else ../shared/data beside
the repository. Its `assert` cells state the targets; a failed one fails the run.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "docs" / "tutorial.ipynb"
PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def execute(notebook, timeout: int = 600):
    """Run every cell of `notebook` (in place) with docs/ as the working directory, as
    Jupyter would open it; raises nbclient's CellExecutionError at the first error."""
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=timeout,  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIAL.parent)}},
        record_timing=False,  # no timestamps in the committed file
    )
    client.execute()
    return notebook


def printed_percentages(notebook) -> list[float]:
    """Every percentage the code cells print to stdout, in order: the accuracies the
    notebook states (its tables are display outputs, not stdout, and are left out)."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                found += [float(x) for x in PERCENT.findall(output["text"])]
    return found


def main() -> None:
    import nbformat

    os.environ.setdefault("MNIST_RULES_REAL_DATA", str(REPO.parent / "shared" / "data"))
    notebook = nbformat.read(TUTORIAL, as_version=4)
    start = time.perf_counter()
    execute(notebook)
    nbformat.write(notebook, TUTORIAL)
    print(f"{TUTORIAL}: executed in {time.perf_counter() - start:.0f} s; it printed")
    print(", ".join(f"{x:g}%" for x in printed_percentages(notebook)))


if __name__ == "__main__":
    sys.exit(main())
