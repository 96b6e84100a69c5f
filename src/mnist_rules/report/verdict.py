"""The comparison's verdict in words: which rule reached the target first, how many
times faster it was than each of the others, and what each cost per epoch."""

from __future__ import annotations

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, rule_label
from mnist_rules.report.numbers import seconds


def verdict(comparison: Comparison) -> str:
    """One paragraph, built only from the recorded epochs."""
    runs = comparison.runs
    target = f"{comparison.target_acc:g}%"
    reached = comparison.reached()
    hits = sorted((hit.seconds, rule) for rule, hit in reached.items() if hit is not None)
    if not hits:
        closest = max(runs, key=lambda r: r.best.test_acc)
        epochs = max(len(run.epochs) for run in runs)
        sentences = [
            f"No rule reached {target} in {epochs_phrase(epochs)}; the closest was the"
            f" {closest.rule} rule, with {closest.best.test_acc:.2f}% at epoch"
            f" {closest.best.epoch}."
        ]
    else:
        sentences = _race(comparison, hits, target)
    if len(runs) > 1:
        base = min(runs, key=median_epoch_seconds)
        costs = [
            f"the {run.rule} rule {times(median_epoch_seconds(run) / median_epoch_seconds(base))}"
            for run in runs
            if run is not base
        ]
        sentences.append(
            f"Per epoch, the {base.rule} rule was the cheapest"
            f" ({seconds(median_epoch_seconds(base))} s of training); {join_and(costs)} as much."
        )
    return " ".join(sentences)


def engines_verdict(comparison: Comparison) -> str:
    """compare --engines: the verdict for each engine's runs, then whether the engines
    agree on which rule reaches the target first."""
    target = f"{comparison.target_acc:g}%"
    paragraphs, winners = [], {}
    for engine in comparison.engines:
        runs = [run for run in comparison.runs if run.engine == engine]
        alone = Comparison(runs, comparison.target_acc, label=rule_label)
        said = verdict(alone)
        paragraphs.append(f"With the {engine} engine, {said[0].lower()}{said[1:]}")
        hits = sorted((hit.seconds, rule) for rule, hit in alone.reached().items() if hit)
        winners[engine] = hits[0][1] if hits else None
    firsts = [
        f"{f'the {rule} rule' if rule else 'no rule'} with the {engine} engine"
        for engine, rule in winners.items()
    ]
    if len(set(winners.values())) > 1:
        paragraphs.append(
            f"The engines disagree on which rule reaches {target} first: {join_and(firsts, '; ')}."
            " What an update costs decides it, and that is the implementation's."
        )
    elif next(iter(winners.values())) is not None:
        rule = next(iter(winners.values()))
        paragraphs.append(f"The engines agree: the {rule} rule reaches {target} first.")
    return "\n\n".join(paragraphs)


def _race(comparison: Comparison, hits: list[tuple[float, str]], target: str) -> list[str]:
    reached = comparison.reached()
    first_seconds, first = hits[0]
    if len(comparison.runs) == 1:
        lead = f"The {first} rule reached {target}"
    elif len(hits) == 1:
        lead = f"Only the {first} rule reached {target}"
    else:
        lead = f"The {first} rule reached {target} first"
    sentences = [
        f"{lead}: at epoch {reached[first].epoch}, after {seconds(first_seconds)} s of training."
    ]
    faster = [
        f"{times(taken / first_seconds)} faster than the {rule} rule (epoch"
        f" {reached[rule].epoch}, {seconds(taken)} s)"
        for taken, rule in hits[1:]
    ]
    short = []  # rules that missed but stopped before the winner's time: no ratio holds
    for run in comparison.runs:
        if reached[run.rule] is not None:
            continue
        spent = run.total_train_seconds
        missed = (
            f"{epochs_phrase(len(run.epochs))} and {seconds(spent)} s without reaching it"
            f" (best {run.best.test_acc:.2f}%)"
        )
        if spent >= first_seconds:  # it trained longer and still missed: a lower bound
            faster.append(
                f"more than {times(spent / first_seconds)} faster than the {run.rule}"
                f" rule, which stopped after {missed}"
            )
        else:
            short.append(f"the {run.rule} rule stopped after {missed}")
    if faster:
        sentences.append(f"That is {join_and(faster, '; ')}.")
    if short:
        clause = join_and(short, "; ")
        sentences.append(
            clause[0].upper()
            + clause[1:]
            + f", before {seconds(first_seconds)} s: more epochs would show whether"
            + (" it reaches" if len(short) == 1 else " they reach")
            + f" {target} sooner."
        )
    return sentences


def join_and(items: list[str], sep: str = ", ") -> str:
    """a; a and b; a, b, and c (sep "; " for clauses that hold commas themselves)."""
    if len(items) == 1:
        return items[0]
    return (
        sep.join(items[:-1]) + (" and " if len(items) == 2 else f"{sep.strip()} and ") + items[-1]
    )


def times(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def epochs_phrase(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"
