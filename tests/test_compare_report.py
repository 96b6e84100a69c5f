"""What compare prints, rendered from synthetic histories: the marks a reader relies on
survive in plain text (logs), and the terminal curve is drawn."""

import io

from rich.console import Console

from histories import history
from mnist_rules.report.compare_tables import accuracy_table, summary_table, terminal_curve
from mnist_rules.report.comparison import Comparison


def render(renderable, width=160):
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def cells(text, first):
    """The cells of the table row whose first cell is `first`."""
    for line in text.splitlines():
        row = [c.strip() for c in line.strip().strip("│").split("│")]
        if row[0] == first:
            return row
    raise AssertionError(f"no row {first!r} in\n{text}")


def flat(text):
    return " ".join(text.split())


def comparison():
    return Comparison(
        [
            history("epoch", [20.0, 30.0, 37.0, 40.0], seconds=8.0, batch_size=1000),
            history("batch", [92.0, 97.0, 96.5, 96.0], seconds=10.0),  # peaks at epoch 2
        ],
        96.0,
    )


def test_summary_table_rows():
    text = render(summary_table(comparison()))
    epoch = cells(text, "epoch")
    assert epoch[-2:] == ["not reached", "—"] and epoch[9] == "4"
    # rule, lr, per update, updates/epoch (1000/100), median s, total s, peak MiB (not
    # measured in a synthetic history), final, best, best epoch (the peak), target
    # epoch, seconds to the target
    assert cells(text, "batch") == [
        "batch",
        "0.1",
        "100",
        "10",
        "10.00",
        "40.0",
        "—",
        "96.00",
        "97.00",
        "2 ▲",
        "2",
        "20.0",
    ]
    assert "fell in each of the two epochs after it" in flat(text)


def test_accuracy_table_marks_first_epoch_at_target_and_the_peak_in_plain_text():
    text = render(accuracy_table(comparison()))
    assert cells(text, "1") == ["1", "20.00", "92.00"]
    assert cells(text, "2") == ["2", "30.00", "97.00 * ▲"]
    assert cells(text, "4") == ["4", "40.00", "96.00"]
    assert "* the first epoch at or above the target, 96%." in flat(text)


def test_accuracy_table_says_so_when_no_rule_reached_the_target():
    missed = Comparison(comparison().runs, 99.0)
    text = flat(render(accuracy_table(missed)))
    assert "No rule reached the target, 99%." in text and "first epoch at or above" not in text


def test_terminal_curve_draws_each_rule_with_a_legend():
    text = terminal_curve(comparison(), width=80).plain
    assert "test accuracy (%) per epoch" in text
    assert "epoch" in text.splitlines()[-1] and "batch" in text.splitlines()[-1]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_terminal_curve_is_skipped_not_fatal_without_uniplot(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "uniplot", None)  # makes the import fail
    assert terminal_curve(comparison(), width=80) is None
