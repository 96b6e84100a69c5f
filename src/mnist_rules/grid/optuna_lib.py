"""Optuna, imported once for the grid. Optuna imports tqdm.auto, which in a Jupyter
kernel without ipywidgets warns on stderr ("IProgress not found") though the grid
never draws a tqdm bar (its progress is rich's): that warning is silenced here."""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="IProgress not found")
    import optuna
    from optuna.trial import TrialState

__all__ = ["TrialState", "optuna"]
