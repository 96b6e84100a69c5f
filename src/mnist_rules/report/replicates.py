"""What an arm's seeds say together: a median with its spread, per label.

An arm (a rule for compare, a size for sweep) runs on several seeds. Over them:

- a value's spread (`spread`): the median, and a 95% bootstrap interval of the median
  (scipy.stats.bootstrap, percentile method, 9,999 resamples, a fixed generator: the
  same values give the same interval) where there are BOOTSTRAP_FROM values or more;
  below that, the min-max range (one value: the value itself).
- time to the target (`ArmSummary.time`): over the seeds that reached it. An arm
  reached the target when at least half its seeds did; with fewer, it did not (its
  seeds that did are counted, "reached in k of n", but no median is given). A run that
  diverged counts as not reaching it, whatever it read before.
- the final and the best test accuracy: over the seeds that did not diverge.
- "peaked before the last epoch": the seeds whose best epoch-end accuracy is above
  their last one.

Pure functions of recorded runs (no torch, no matplotlib; scipy only inside `spread`).
"""

from __future__ import annotations

import inspect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mnist_rules.report.comparison import TargetReached
    from mnist_rules.training.results import RunResult

BOOTSTRAP_FROM = 5  # values from which the interval is a bootstrap one, not min-max
CONFIDENCE = 0.95
RESAMPLES = 9_999
BOOTSTRAP_SEED = 0
BOOTSTRAP, MIN_MAX = "bootstrap 95%", "min-max"  # the interval kinds, as the JSON says


@dataclass(frozen=True)
class Spread:
    """A median over `n` values and an interval around it (`interval`: its kind)."""

    median: float
    low: float
    high: float
    interval: str  # BOOTSTRAP or MIN_MAX
    n: int

    def overlaps(self, other: Spread) -> bool:
        return self.low <= other.high and other.low <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "low": self.low, "high": self.high,
                "interval": self.interval, "n": self.n}  # fmt: skip


def bootstrap_interval(values: Sequence[float]) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the median of `values` (reproducible)."""
    import numpy as np
    from scipy.stats import bootstrap  # only when there is an interval to compute

    # scipy 1.15 renamed random_state to rng; older ones (>= 1.11) take random_state.
    key = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"
    result = bootstrap(
        (np.asarray(values, dtype=float),),
        np.median,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        **{key: np.random.default_rng(BOOTSTRAP_SEED)},
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def spread(values: Sequence[float]) -> Spread:
    """The median of `values` (at least one) with a bootstrap interval from
    BOOTSTRAP_FROM values, else their min-max range."""
    if not values:
        raise ValueError("a spread needs at least one value")
    median = float(statistics.median(values))
    if len(values) >= BOOTSTRAP_FROM:
        low, high = bootstrap_interval(values)
        return Spread(median, low, high, BOOTSTRAP, len(values))
    return Spread(median, float(min(values)), float(max(values)), MIN_MAX, len(values))


def peaked_before_last(run: RunResult) -> bool:
    """Whether the run's best epoch-end test accuracy is above its last one."""
    accs = [e.test_acc for e in run.epochs]
    return bool(accs) and max(accs) > accs[-1]


@dataclass
class ArmSummary:
    """One label's seeds: `runs` in seed order, each one's `hits` (None: not reached,
    or diverged) and whether it `diverged`."""

    label: str
    runs: list[RunResult]
    hits: list[TargetReached | None]
    diverged: list[bool]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def k(self) -> int:
        """The seeds that reached the target."""
        return sum(hit is not None for hit in self.hits)

    @property
    def reached(self) -> bool:
        """At least half the seeds reached the target (and one did)."""
        return self.k > 0 and 2 * self.k >= self.n

    @property
    def time(self) -> Spread | None:
        """Training seconds to the target over the seeds that reached it; None when
        the arm did not reach it."""
        if not self.reached:
            return None
        return spread([hit.seconds for hit in self.hits if hit is not None])

    @property
    def median_epoch(self) -> float | None:
        if not self.reached:
            return None
        return statistics.median(hit.epoch for hit in self.hits if hit is not None)

    @property
    def trained(self) -> list[RunResult]:
        """The runs that did not diverge and finished an epoch: their accuracies count."""
        return [r for r, d in zip(self.runs, self.diverged, strict=True) if r.epochs and not d]

    @property
    def final_acc(self) -> Spread | None:
        runs = self.trained
        return spread([run.final.test_acc for run in runs]) if runs else None

    @property
    def best_acc(self) -> Spread | None:
        runs = self.trained
        return spread([run.best.test_acc for run in runs]) if runs else None

    @property
    def peaked(self) -> int:
        """The seeds (of `trained`) whose accuracy peaked before the last epoch."""
        return sum(peaked_before_last(run) for run in self.trained)

    @property
    def seconds_trained(self) -> float:
        """The median training seconds of the arm's runs (those that missed: a bound)."""
        return statistics.median(run.total_train_seconds for run in self.runs)

    @property
    def epochs(self) -> int:
        return max((len(run.epochs) for run in self.runs), default=0)

    def per_seed(self) -> list[dict[str, Any] | None]:
        return [
            None
            if hit is None
            else {
                "seed": run.seed,
                "seconds": hit.seconds,
                "updates": hit.updates,
                "samples": hit.samples,
                "epoch": hit.epoch,
            }
            for run, hit in zip(self.runs, self.hits, strict=True)
        ]

    def time_dict(self) -> dict[str, Any]:
        """The arm's time to the target as the JSON writes it."""
        time = self.time
        return {
            "reached": self.k,
            "runs": self.n,
            "diverged": sum(self.diverged),
            "seconds": None if time is None else time.to_dict(),
            "median_epoch": self.median_epoch,
            "per_seed": self.per_seed(),
        }


def faster_in(winner: ArmSummary, other: ArmSummary) -> tuple[int, int]:
    """Paired by seed: the seeds where `winner` reached the target sooner than `other`
    (or `other` never did), and how many seeds the two share."""
    theirs = {run.seed: hit for run, hit in zip(other.runs, other.hits, strict=True)}
    faster = paired = 0
    for run, hit in zip(winner.runs, winner.hits, strict=True):
        if run.seed not in theirs:
            continue
        paired += 1
        rival = theirs[run.seed]
        faster += hit is not None and (rival is None or hit.seconds < rival.seconds)
    return faster, paired


def median_band(series: Sequence[Sequence[float]]) -> tuple[list[float], list[float], list[float]]:
    """Aligned by index: the median, min and max at each index over the series that
    reach it (runs that stopped sooner drop out of the later points)."""
    longest = max((len(s) for s in series), default=0)
    medians, lows, highs = [], [], []
    for i in range(longest):
        values = [s[i] for s in series if i < len(s)]
        medians.append(float(statistics.median(values)))
        lows.append(float(min(values)))
        highs.append(float(max(values)))
    return medians, lows, highs
