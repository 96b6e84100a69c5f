"""The sweep's verdict in words: which update size reached the target soonest, by how
much, and where the curve of time to the target turns. With several seeds, by the
median over them and whether the lead holds; with a tuned learning rate, what the tuning
chose and cost (report.replicate_verdict)."""

from __future__ import annotations

from dataclasses import replace

from mnist_rules.report.comparison import Comparison, size_label, whole_set
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
from mnist_rules.training.results import RunResult

WORDS = Words(lambda label: f"size {label}", "soonest", "sooner", "update size")


def size_name(run: RunResult) -> str:
    if whole_set(run):
        return f"the whole set per update ({run.batch_size:,} samples)"
    if run.batch_size == 1:
        return "one sample per update"
    return f"{run.batch_size:,} samples per update"


def sweep_verdict(comparison: Comparison) -> str:
    """One paragraph, built only from the recorded epochs (and a line for the tuning's
    cost, when the learning rates were tuned); with several engines, one per engine."""
    if len(comparison.engines) > 1:
        return _engines_verdict(comparison)
    if comparison.replicated:
        sentences = _replicated(comparison)
    else:
        sentences = [_one_seed(comparison)]
        sentences += [s for s in (diverged_sentence(comparison, WORDS),) if s]
    paragraph = " ".join(sentences + tuning_sentences(comparison, WORDS))
    cost = tuning_cost(comparison)
    return paragraph if cost is None else f"{paragraph}\n{cost}"


def _replicated(comparison: Comparison) -> list[str]:
    """By the median over each size's seeds; the curve's turn from the medians."""
    sentences = replicate_race(comparison, WORDS)
    sentences += [s for s in (diverged_sentence(comparison, WORDS),) if s]
    summaries = comparison.summaries()
    hits = sorted((s.time.median, label) for label, s in summaries.items() if s.time)
    if hits and len(summaries) > 1:
        first = {label: s.runs[0] for label, s in summaries.items()}
        winner_s = hits[0][0]
        # A size that missed but trained less than the winner took is no evidence.
        short = {k for k, s in summaries.items() if not s.time and s.seconds_trained < winner_s}
        kept = [run for label, run in first.items() if label not in short]
        runs = sorted(kept, key=lambda run: run.batch_size)
        sentences.append(_turn(runs, first[hits[0][1]]))
    sentences.append(peaks_sentence(comparison, WORDS))
    return sentences


def _one_seed(comparison: Comparison) -> str:
    runs = sorted((run for run in comparison.runs if run.epochs), key=lambda run: run.batch_size)
    if not runs:
        return f"No update size reached {comparison.target_acc:g}%: every run diverged."
    target = f"{comparison.target_acc:g}%"
    reached = comparison.reached()

    def hit(run: RunResult):
        return reached[comparison.label(run)]

    hits = sorted((hit(run).seconds, i) for i, run in enumerate(runs) if hit(run))
    epochs = max(len(run.epochs) for run in runs)
    if not hits:
        closest = max(runs, key=lambda r: r.best.test_acc)
        return (
            f"No update size reached {target} in {epochs_phrase(epochs)}; the closest was"
            f" {size_name(closest)}, with {closest.best.test_acc:.2f}% at epoch"
            f" {closest.best.epoch}."
        )
    best_seconds, best_index = hits[0]
    best = runs[best_index]  # the soonest
    sentences = [
        f"{size_name(best)[0].upper() + size_name(best)[1:]} reached {target} soonest: at"
        f" epoch {hit(best).epoch}, after {seconds(best_seconds)} s of training."
    ]
    slower = [
        f"{times(taken / best_seconds)} sooner than {size_label(runs[i])} (epoch"
        f" {hit(runs[i]).epoch}, {seconds(taken)} s)"
        for taken, i in hits[1:]
    ]
    if slower:
        sentences.append(f"That is {join_and(slower, '; ')}.")
    missed = [run for run in runs if hit(run) is None]
    if missed:
        names = join_and([size_label(run) for run in missed])
        bests = join_and([f"{run.best.test_acc:.2f}%" for run in missed])
        sentences.append(
            f"{'Size' if len(missed) == 1 else 'Sizes'} {names} did not reach it in"
            f" {epochs_phrase(epochs)} (best {bests})."
        )
    # A size that missed but trained for less time than the soonest took is no evidence
    # either way: more epochs would tell.
    short = [run for run in missed if run.total_train_seconds < best_seconds]
    if short:
        names = join_and([size_label(run) for run in short])
        sentences.append(
            f"{'Size' if len(short) == 1 else 'Sizes'} {names} stopped before"
            f" {seconds(best_seconds)} s of training: more epochs would show whether"
            f" {'it reaches' if len(short) == 1 else 'they reach'} {target} sooner."
        )
    if len(runs) > 1:
        sentences.append(_turn([run for run in runs if run not in short], best))
    return " ".join(sentences)


def _turn(runs: list[RunResult], best: RunResult) -> str:
    """Where the curve turns: the sizes below the soonest and above it took longer (or
    trained as long without getting there)."""
    index = runs.index(best)
    smaller, larger = runs[:index], runs[index + 1 :]
    if not smaller and not larger:
        return "No other size trained long enough to compare."
    if not smaller:
        return "The curve rises from there: every larger update took longer, or never got there."
    if not larger:
        return "The curve falls to there: every smaller update took longer, or never got there."
    below, above = (join_and([size_label(run) for run in side]) for side in (smaller, larger))
    return (
        f"The curve turns there: smaller updates ({below}) and larger ones ({above}) took"
        " longer, or never got there."
    )


def _engines_verdict(comparison: Comparison) -> str:
    """sweep --engines: each engine's sizes on their own, then whether the engines agree
    on the soonest size (why they may not: the model's paragraph)."""
    target = f"{comparison.target_acc:g}%"
    paragraphs, winners = [], {}
    for engine in comparison.engines:
        runs = [run for run in comparison.runs if run.engine == engine]
        trials = [replace(t, label=size_label(t.run))
                  for t in comparison.trials if t.run.engine == engine]  # fmt: skip
        alone = Comparison(runs, comparison.target_acc, label=size_label, trials=trials)
        said = sweep_verdict(alone)
        paragraphs.append(f"With the {engine} engine, {said[0].lower()}{said[1:]}")
        medians = [(s.time.median, label) for label, s in alone.summaries().items() if s.time]
        winners[engine] = min(medians)[1] if medians else None
    firsts = join_and([f"{'size ' + size if size else 'no size'} with the {engine} engine"
                       for engine, size in winners.items()], "; ")  # fmt: skip
    if None in winners.values():
        none = join_and([engine for engine, size in winners.items() if size is None])
        paragraphs.append(f"No size reached {target} with the {none} engine: {firsts}.")
    elif len(set(winners.values())) > 1:
        paragraphs.append(f"The engines disagree on which size reaches {target} soonest: {firsts}.")
    elif next(iter(winners.values())) is not None:
        paragraphs.append(f"The engines agree: size {next(iter(winners.values()))} is soonest.")
    sentences = tuning_sentences(comparison, WORDS)
    cost = tuning_cost(comparison)
    paragraphs += [" ".join(sentences)] if sentences else []
    return "\n\n".join(paragraphs) + ("" if cost is None else f"\n{cost}")
