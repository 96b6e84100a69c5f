"""The verdict in words, from synthetic histories."""

from histories import history
from mnist_rules.report.comparison import Comparison
from mnist_rules.report.verdict import verdict


def test_verdict_names_the_winner_and_how_many_times_faster():
    text = verdict(
        Comparison(
            [
                history("epoch", [20.0, 30.0, 37.0], seconds=8.0, batch_size=1000),
                history("batch", [92.0, 95.0, 96.5], seconds=10.0),
                history("sample", [96.2, 96.8, 96.5], seconds=80.0, batch_size=1, lr=0.01),
            ],
            96.0,
        )
    )
    # batch: epoch 3 at 30 s; sample: epoch 1 at 80 s (2.7x); epoch never, after 24 s
    assert text.startswith("The batch rule reached 96% first: at epoch 3, after 30.0 s")
    assert "That is 2.7x faster than the sample rule (epoch 1, 80.0 s)." in text
    # epoch stopped (24 s) before batch needed 30 s: no speed-up can be claimed over it
    assert (
        "The epoch rule stopped after 3 epochs and 24.0 s without reaching it (best 37.00%),"
        " before 30.0 s: more epochs would show whether it reaches 96% sooner." in text
    )
    assert "faster than the epoch rule" not in text
    assert text.endswith(
        "Per epoch, the epoch rule was the cheapest (8.0 s of training); the batch rule 1.2x"
        " and the sample rule 10.0x as much."
    )


def test_verdict_gives_a_lower_bound_over_a_rule_that_trained_longer_and_missed():
    text = verdict(
        Comparison(
            [history("batch", [96.5], seconds=10.0), history("epoch", [30.0, 37.0], seconds=25.0)],
            96.0,
        )
    )
    assert text.startswith("Only the batch rule reached 96%: at epoch 1, after 10.0 s")
    assert (
        "That is more than 5.0x faster than the epoch rule, which stopped after 2 epochs and"
        " 50.0 s without reaching it (best 37.00%)." in text
    )


def test_verdict_for_a_single_rule_makes_no_comparison():
    text = verdict(Comparison([history("sample", [95.0, 96.5], seconds=80.0)], 96.0))
    assert text == "The sample rule reached 96%: at epoch 2, after 160.0 s of training."


def test_verdict_when_no_rule_reaches_the_target():
    comparison = Comparison([history("epoch", [20.0, 37.0]), history("batch", [90.0, 93.0])], 99.0)
    assert verdict(comparison).startswith(
        "No rule reached 99% in 2 epochs; the closest was the batch rule, with 93.00% at epoch 2."
    )


def test_the_engines_verdict_says_when_the_engines_disagree():
    from mnist_rules.report.comparison import engine_rule_label
    from mnist_rules.report.verdict import engines_verdict

    runs = [history("batch", [96.5], 10.0), history("sample", [96.5], 80.0),
            history("batch", [96.5], 2.0), history("sample", [96.5], 1.0)]  # fmt: skip
    for run in runs[2:]:
        run.engine = "tuned"
    text = engines_verdict(Comparison(runs, 96, label=engine_rule_label))
    assert text.startswith("With the torch engine, the batch rule reached 96% first")
    assert "With the tuned engine, the sample rule reached 96% first" in text
    assert text.endswith(
        "The engines disagree on which rule reaches 96% first: the batch rule with the"
        " torch engine and the sample rule with the tuned engine. What an update costs"
        " decides it, and that is the implementation's."
    )


def test_times_under_a_tenth_of_a_second_keep_two_significant_figures():
    from mnist_rules.report.numbers import seconds

    assert [seconds(s) for s in (0.043, 0.0051, 0.26, 12.34)] == ["0.043", "0.0051", "0.3", "12.3"]
    assert seconds(0.0) == "0.0" and seconds(3.14159, 2, 7) == "   3.14"
    text = verdict(Comparison([history("batch", [97.0], seconds=0.043)], 96))
    assert "after 0.043 s of training" in text
