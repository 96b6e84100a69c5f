"""The verdict's sentences that compare and sweep share once there are seeds and a tuned
learning rate: the race by median time to the target (report.replicates), whether the
winner's lead holds against the runner-up, divergence and peak counts, and what the
tuning chose, at what cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mnist_rules.report.comparison import Comparison, reference_lr
from mnist_rules.report.numbers import seconds
from mnist_rules.report.replicate_text import DASH
from mnist_rules.report.replicates import ArmSummary, Spread, faster_in


@dataclass(frozen=True)
class Words:
    """How a verdict names things: an arm by its label ("the batch rule", "size 10"),
    the winner ("first", "soonest"), a lead ("faster", "sooner"), arms ("rule")."""

    name: Callable[[str], str]
    first: str
    faster: str
    arm: str


def capital(text: str) -> str:
    return text[0].upper() + text[1:]


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


def bracket(value: Spread, write: Callable[[float], str], unit: str = "") -> str:
    """ " [1.31-1.60 s, bootstrap 95%]", " [95.90-96.30%, min-max]" (en dashes); one
    value, or values all equal: nothing."""
    if value.n == 1 or value.low == value.high:
        return ""
    kind = value.interval.replace("-", DASH)
    return f" [{write(value.low)}{DASH}{write(value.high)}{unit}, {kind}]"


def _secs(value: float) -> str:
    return seconds(value, 2)


def _acc(value: float) -> str:
    return f"{value:.2f}"


def replicate_race(comparison: Comparison, words: Words) -> list[str]:
    """Who reached the target first by median time over its seeds, by how much, whether
    the lead over the runner-up holds seed by seed, and who did not get there."""
    summaries = comparison.summaries()
    target = f"{comparison.target_acc:g}%"
    name = words.name
    hits = sorted((s.time.median, label) for label, s in summaries.items() if s.time)
    epochs = max(s.epochs for s in summaries.values())
    if not hits:
        scored = [s for s in summaries.values() if s.best_acc is not None]
        if not scored:
            return [f"No {words.arm} reached {target}: every run diverged."]
        closest = max(scored, key=lambda s: s.best_acc.median)
        return [
            f"No {words.arm} reached {target} in half its seeds or more, in"
            f" {epochs_phrase(epochs)}; the closest was {name(closest.label)}, with a median"
            f" best of {_acc(closest.best_acc.median)}%{bracket(closest.best_acc, _acc, '%')}."
        ]
    first_seconds, first = hits[0]
    winner = summaries[first]
    if len(summaries) == 1:
        lead = f"{capital(name(first))} reached {target}"
    elif len(hits) == 1:
        lead = f"Only {name(first)} reached {target}"
    else:
        lead = f"{capital(name(first))} reached {target} {words.first}"
    sentences = [
        f"{lead}: a median {_secs(first_seconds)} s of training"
        f"{bracket(winner.time, _secs, ' s')}, at epoch {winner.median_epoch:g} (median),"
        f" in {winner.k} of {winner.n} seeds."
    ]
    ahead = [
        f"{times(taken / first_seconds)} {words.faster} than {name(label)} (median"
        f" {_secs(taken)} s, at epoch {summaries[label].median_epoch:g})"
        for taken, label in hits[1:]
    ]
    if ahead:
        sentences.append(f"That is {join_and(ahead, '; ')}.")
        sentences.append(separation(winner, summaries[hits[1][1]], words))
    for summary in summaries.values():
        if summary.time is None:
            sentences.append(_missed(summary, target, first_seconds, epochs, words))
    return sentences


def separation(winner: ArmSummary, runner_up: ArmSummary, words: Words) -> str:
    """Whether the winner's lead over the runner-up holds: the seeds it won, paired by
    seed, and whether the two intervals overlap."""
    won, paired = faster_in(winner, runner_up)
    head = (
        f"Against {words.name(runner_up.label)}, the runner-up, {words.name(winner.label)} was"
        f" {words.faster} in {won} of {paired} seeds"
    )
    if winner.time.overlaps(runner_up.time):
        return f"{head}; the intervals overlap: indistinguishable at n = {paired}."
    return f"{head}; the intervals do not overlap."


def _missed(summary: ArmSummary, target: str, winner_s: float, epochs: int, words: Words) -> str:
    name = capital(words.name(summary.label))
    best = summary.best_acc
    best_text = "" if best is None else f" (median best {_acc(best.median)}%)"
    if summary.k == 0:
        said = f"{name} did not reach {target} in any of its {summary.n} seeds{best_text}"
    else:
        said = (
            f"{name} reached {target} in only {summary.k} of {summary.n} seeds, fewer than"
            f" half: not reached{best_text}"
        )
    if summary.seconds_trained < winner_s:  # it stopped before the winner got there
        said += (
            f"; it trained a median {_secs(summary.seconds_trained)} s, less than"
            f" {_secs(winner_s)} s: more epochs would show whether it reaches {target} sooner"
        )
    else:
        said += f", in {epochs_phrase(epochs)}"
    return said + "."


def diverged_sentence(comparison: Comparison, words: Words) -> str | None:
    """The arms whose runs diverged, and in how many seeds."""
    counts = [
        (label, sum(s.diverged), s.n)
        for label, s in comparison.summaries().items()
        if any(s.diverged)
    ]
    if not counts:
        return None
    parts = [f"{words.name(label)} in {d} of {n} seeds" for label, d, n in counts]
    return f"The loss diverged for {join_and(parts)}: counted as not reaching the target."


def peaks_sentence(comparison: Comparison, words: Words) -> str:
    """How many seeds of each arm saw test accuracy peak before the last epoch."""
    summaries = comparison.summaries().values()
    peaked = [
        f"{s.peaked} of {len(s.trained)} seeds of {words.name(s.label)}"
        for s in summaries
        if s.peaked
    ]
    if not peaked:
        return "Test accuracy was at its best at the last epoch in every seed."
    return f"Test accuracy peaked before the last epoch in {join_and(peaked, '; ')}."


def tuning_sentences(comparison: Comparison, words: Words) -> list[str]:
    """What tuning chose against the reference learning rates, the choices at the
    grid's edge, and (its own line) what the tuning cost."""
    tuning = comparison.tuning
    if tuning is None:
        return []
    grid = f"{tuning.grid[0]:g} to {tuning.grid[-1]:g}, {len(tuning.grid)} rates"
    moved, kept = [], []
    for label in comparison.labels:
        if label not in tuning.chosen:
            continue
        chosen, reference = tuning.chosen[label], reference_lr(comparison.runs_of(label)[0])
        if chosen == reference:
            kept.append(words.name(label))
        else:
            moved.append(f"{words.name(label)} from {reference:g} to {chosen:g}")
    said = f"Tuned on seed {tuning.seed} ({grid}), the learning rate "
    if moved:
        said += f"moved for {join_and(moved)}"
        theirs = "its" if len(kept) == 1 else "their"
        said += f"; {join_and(kept)} kept {theirs} reference rate." if kept else "."
    else:
        said += f"stayed at the reference for every {words.arm}."
    sentences = [said]
    for label in comparison.labels:
        if tuning.at_edge.get(label) and label in tuning.chosen:
            lr = tuning.chosen[label]
            end = "largest" if lr >= max(tuning.grid) else "smallest"
            sentences.append(
                f"The best lr for {words.name(label)}, {lr:g}, is the grid's {end}: widen --lrs."
            )
    return sentences


def tuning_cost(comparison: Comparison) -> str | None:
    tuning = comparison.tuning
    if tuning is None:
        return None
    return f"tuning: {len(tuning.trials)} trials, {seconds(tuning.seconds)} s of training"
