"""The comparison's verdict in words: which rule reached the target first, how many
times faster it was than each of the others, and what each cost per epoch. With several
seeds, by the median over them and whether the lead holds (report.replicate_verdict);
with a tuned learning rate, what the tuning chose and cost."""

from __future__ import annotations

import statistics
from dataclasses import replace

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, rule_label
from mnist_rules.report.numbers import seconds
from mnist_rules.report.replicate_verdict import (
    Words,
    diverged_sentence,
    epochs_phrase,
    join_and,
    peaks_sentence,
    replicate_race,
    times,
    tuning_cost,
    tuning_sentences,
)

__all__ = ["engines_verdict", "epochs_phrase", "join_and", "times", "verdict"]


def rule_name(label: str) -> str:
    """How the verdict names an arm: "the batch rule" ("torch/batch": "the batch rule
    with the torch engine")."""
    engine, _, rule = label.rpartition("/")
    return f"the {rule} rule" + (f" with the {engine} engine" if engine else "")


WORDS = Words(rule_name, "first", "faster", "rule")


def verdict(comparison: Comparison) -> str:
    """One paragraph, built only from the recorded epochs (and a line for the tuning's
    cost, when the learning rates were tuned)."""
    sentences = _sentences(comparison) + tuning_sentences(comparison, WORDS)
    return _with_cost(" ".join(sentences), comparison)


def _with_cost(paragraph: str, comparison: Comparison) -> str:
    cost = tuning_cost(comparison)
    return paragraph if cost is None else f"{paragraph}\n{cost}"


def _sentences(comparison: Comparison) -> list[str]:
    target = f"{comparison.target_acc:g}%"
    if comparison.replicated:
        sentences = replicate_race(comparison, WORDS)
    else:
        runs = [run for run in comparison.runs if run.epochs]
        reached = comparison.reached()
        hits = sorted((hit.seconds, rule) for rule, hit in reached.items() if hit is not None)
        if hits:
            sentences = _race(comparison, hits, target)
        elif runs:
            closest = max(runs, key=lambda r: r.best.test_acc)
            epochs = max(len(run.epochs) for run in runs)
            sentences = [
                f"No rule reached {target} in {epochs_phrase(epochs)}; the closest was the"
                f" {closest.rule} rule, with {closest.best.test_acc:.2f}% at epoch"
                f" {closest.best.epoch}."
            ]
        else:
            sentences = [f"No rule reached {target}: every run diverged."]
    sentences += [s for s in (diverged_sentence(comparison, WORDS), _costs(comparison)) if s]
    if comparison.replicated:
        sentences.append(peaks_sentence(comparison, WORDS))
    return sentences


def _costs(comparison: Comparison) -> str | None:
    """Which label's epoch cost least, and the others' as a multiple of it (medians
    over the seeds)."""
    per_epoch = {
        label: statistics.median(median_epoch_seconds(run) for run in s.trained)
        for label, s in comparison.summaries().items()
        if s.trained
    }
    if len(per_epoch) < 2:
        return None
    base = min(per_epoch, key=per_epoch.__getitem__)
    costs = [
        f"{rule_name(label)} {times(value / per_epoch[base])}"
        for label, value in per_epoch.items()
        if label != base
    ]
    median = "a median " if comparison.replicated else ""
    return (
        f"Per epoch, {rule_name(base)} was the cheapest ({median}{seconds(per_epoch[base])} s"
        f" of training); {join_and(costs)} as much."
    )


def engines_verdict(comparison: Comparison) -> str:
    """compare --engines: the verdict for each engine's runs, then whether the engines
    agree on which rule reaches the target first."""
    target = f"{comparison.target_acc:g}%"
    paragraphs, winners = [], {}
    for engine in comparison.engines:
        runs = [run for run in comparison.runs if run.engine == engine]
        trials = [replace(t, label=t.run.rule) for t in comparison.trials if t.run.engine == engine]
        alone = Comparison(runs, comparison.target_acc, label=rule_label, trials=trials)
        said = " ".join(_sentences(alone))
        paragraphs.append(f"With the {engine} engine, {said[0].lower()}{said[1:]}")
        medians = [(s.time.median, rule) for rule, s in alone.summaries().items() if s.time]
        winners[engine] = min(medians)[1] if medians else None
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
    tuned = " ".join(tuning_sentences(comparison, WORDS))
    return _with_cost("\n\n".join(paragraphs + ([tuned] if tuned else [])), comparison)


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
        if reached[run.rule] is not None or not run.epochs:
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
