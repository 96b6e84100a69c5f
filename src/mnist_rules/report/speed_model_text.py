"""The sweep's model in words (report.speed_model): where B_crit lies and which regime
each size is in, beside B_simple; per engine, the cost of an update and the best size it
predicts against the one measured, and where the model misses and by how much; with
several engines, why their best sizes differ."""

from __future__ import annotations

import math

from mnist_rules.report.numbers import duration, significant
from mnist_rules.report.replicate_text import DASH
from mnist_rules.report.replicate_verdict import join_and
from mnist_rules.report.speed_model import EngineModel, SpeedModel
from mnist_rules.theory.fitting import Parameter
from mnist_rules.theory.prediction import time_to_target
from mnist_rules.theory.steps_fit import PERFECT, regime

# A miss within this factor is within what the seeds' spread and the readings' spacing
# (--evals-per-epoch) make of a time to the target; beyond it, the model is said to miss.
HOLDS_WITHIN = 1.5
# An interval wider than this many decades is not written out: the points leave the
# value loose (all of them in one regime, say), and the digits would only mislead.
LOOSE_DECADES = 2


def quantity(param: Parameter) -> str:
    """A fitted value with its 95% interval: "95 [60-150]" (an en dash)."""
    value = significant(param.value)
    if param.at_bound:
        return f"{value} (not pinned down by the points)"
    if param.low is None:
        return f"{value} (as many points as parameters: no interval)"
    decades = math.log10(param.high / param.low)
    if decades > LOOSE_DECADES:
        return f"{value} (loose: its 95% interval spans {decades:.0f} decades)"
    return f"{value} [{significant(param.low)}{DASH}{significant(param.high)}]"


def model_paragraph(model: SpeedModel) -> str:
    """The model's sentences, from the fits (docs/theory.md explains them)."""
    sentences = [_steps_sentence(model), _noise_sentence(model)]
    for engine in model.engines.values():
        sentences.append(_engine_sentence(model, engine))
    sentences.append(_engines_differ(model))
    return "Why (docs/theory.md): " + " ".join(s for s in sentences if s)


def _steps_sentence(model: SpeedModel) -> str:
    steps = model.steps
    if steps is None:
        return f"No steps-to-target fit: {model.steps_why_not}."
    by_regime: dict[str, list[str]] = {}
    for size in steps.sizes:
        by_regime.setdefault(regime(size, steps.b_crit.value), []).append(f"{size:,}")
    regimes = "; ".join(f"{join_and(sizes)} in {name}" for name, sizes in by_regime.items())
    size, factor = steps.worst_miss()
    sentence = (
        f"Steps to the target fit S(B) = S_min·(1 + B_crit/B) with B_crit ="
        f" {quantity(steps.b_crit)} samples and S_min = {quantity(steps.s_min)} updates"
        f" ({regimes}; the furthest point from the fit, size {size:,}, is"
        f" {significant(factor)}x off it)."
    )
    if model.not_reached:
        sizes = list(model.not_reached)
        several = len(sizes) > 1
        trained = join_and([f"{u:,.0f}" for u in model.not_reached.values()])
        needs = join_and([significant(steps.steps_at(b)) for b in sizes])
        sentence += (
            f" {'Sizes' if several else 'Size'} {join_and([size_name(model, b) for b in sizes])}"
            f" did not reach the target in the {trained} updates"
            f" {'they' if several else 'it'} trained (a median over the seeds), and the fit is"
            f" held above that: it says {'they need' if several else 'it needs'} {needs}."
        )
    short = steps.short_of()
    if short:
        names = join_and([size_name(model, b) for b, _ in short])
        which = f"sizes {names} needed" if len(short) > 1 else f"size {names} needed"
        sentence += (
            f" The law cannot hold them all: even so it says {which} fewer updates than"
            f" {'they' if len(short) > 1 else 'it'} trained without reaching the target."
        )
    if not steps.leans_on() and all(regime(b, steps.b_crit.value) == PERFECT for b in steps.sizes):
        sentence += (
            " Every size that reached the target is in perfect scaling, so its steps bound"
            " B_crit from below only: the value is an extrapolation."
        )
    return sentence


def size_name(model: SpeedModel, size: int) -> str:
    return "all" if size == model.whole else f"{size:,}"


def _noise_sentence(model: SpeedModel) -> str | None:
    noise = model.noise_scale
    if not noise:
        return None
    values = [(p["epoch"], p["b_simple"]) for p in noise["points"] if p["b_simple"] is not None]
    if not values:
        return "B_simple could not be measured: the gradient was lost in the noise."
    start = next((b for e, b in values if e == 0), None)
    parts = [f"{significant(b)} after epoch {e}" if e else f"{significant(b)} at the start"
             for e, b in values]  # fmt: skip
    sentence = (
        f"B_simple along size {noise['label']}'s training: {join_and(parts)}"
        f" ({noise['samples']:,} images)"
    )
    if model.steps is not None and start is not None:
        ratio = model.steps.b_crit.value / start
        sentence += f"; B_crit is {significant(ratio)}x its initial value"
    return sentence + "."


def _engine_sentence(model: SpeedModel, engine: EngineModel) -> str:
    cost = engine.cost
    if cost is None:
        return f"{engine.engine}: no cost fit ({engine.why_not})."
    sentence = (
        f"On the {engine.engine} engine an update costs t₀ = {duration(cost.t0.value)} plus"
        f" c = {duration(cost.c.value)} a sample"
    )
    steps = model.steps
    if steps is None:
        return sentence + "."
    best = engine.predicted_best(steps)
    sentence += f", so T(B) = S(B)·t(B) is lowest at B* = sqrt(B_crit·t₀/c) ≈ {significant(best)}"
    measured = engine.measured_best
    if measured is None:
        return sentence + "; no size reached the target to compare."
    ratio = measured / best
    if 1 / HOLDS_WITHIN <= ratio <= HOLDS_WITHIN:
        where = f"at B* (within {HOLDS_WITHIN:g}x)"
    else:
        where = f"{significant(max(ratio, 1 / ratio))}x {'above' if ratio > 1 else 'below'} B*"
        # How much the model says is lost there: near 1, its T(B) is flat between them.
        lost = time_to_target(steps, cost, measured) / time_to_target(steps, cost, best)
        where += f", where the model's T(B) is {significant(lost, 3)}x its minimum"
    sentence += f"; the measured best size, {measured:,}, lies {where}."
    misses = []
    for size, seconds in engine.measured.items():
        predicted = time_to_target(steps, cost, size)
        factor = max(predicted / seconds, seconds / predicted)
        if factor > HOLDS_WITHIN:
            misses.append(
                f"size {size:,} ({duration(predicted)} predicted, {duration(seconds)}"
                f" measured: {significant(factor)}x)"
            )
    if misses:
        sentence += f" The model misses the time to the target at {join_and(misses, '; ')}."
    else:
        sentence += f" It predicts every size's time to the target within {HOLDS_WITHIN:g}x."
    return sentence


def _engines_differ(model: SpeedModel) -> str | None:
    """With two engines or more: their B* differ by the square root of their t₀/c."""
    fitted = [e for e in model.engines.values() if e.cost is not None]
    if len(fitted) < 2 or model.steps is None:
        return None
    slow, fast = max(fitted, key=_ratio), min(fitted, key=_ratio)
    t0_ratio = slow.cost.t0.value / fast.cost.t0.value
    c_ratio = slow.cost.c.value / fast.cost.c.value
    ratio = _ratio(slow) / _ratio(fast)  # of t₀/c
    moved = math.sqrt(ratio)  # of B*
    measured = (
        f" (measured: {slow.measured_best:,} and {fast.measured_best:,})"
        if slow.measured_best and fast.measured_best
        else ""
    )
    if slow.measured_best == fast.measured_best or moved < HOLDS_WITHIN:
        agree = "measure the same best size" if slow.measured_best == fast.measured_best else (
            "differ less than the model can tell apart")  # fmt: skip
        return (
            f"The engines {agree}: {slow.engine}'s t₀/c is {significant(ratio)}x"
            f" {fast.engine}'s, which moves B* by {significant(moved)}x"
            f" ({significant(slow.predicted_best(model.steps))} against"
            f" {significant(fast.predicted_best(model.steps))}){measured}."
        )
    return (
        f"The engines disagree because an update's fixed cost weighs differently: {slow.engine}"
        f"'s t₀ is {significant(t0_ratio)}x {fast.engine}'s and its c {significant(c_ratio)}x,"
        f" so its t₀/c is {significant(ratio)}x larger and its B*"
        f" {significant(moved)}x larger, {significant(slow.predicted_best(model.steps))}"
        f" against {significant(fast.predicted_best(model.steps))}{measured}."
    )


def _ratio(engine: EngineModel) -> float:
    return engine.cost.t0.value / engine.cost.c.value
