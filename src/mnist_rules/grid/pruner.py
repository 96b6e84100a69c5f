"""The tuning phase's pruner: a trial is given up once it has trained on as many samples
as its arm's best finished trial needed to reach the target. It can then no longer
reach the target sooner, so pruning it never changes which lr is chosen (grid.points
ranks by samples to the target), whatever order the trials ran in."""

from __future__ import annotations

from mnist_rules.grid.optuna_lib import TrialState, optuna
from mnist_rules.grid.records import TUNE


class CannotWinPruner(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step  # samples trained at its latest reading
        if step is None or trial.params.get("phase") != TUNE:
            return False
        label = trial.params.get("label")
        needed = [
            t.user_attrs["samples_to_target"]
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.params.get("label") == label and t.params.get("phase") == TUNE
            and t.user_attrs.get("samples_to_target") is not None
        ]  # fmt: skip
        return bool(needed) and step >= min(needed)
