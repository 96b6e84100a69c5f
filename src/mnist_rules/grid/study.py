"""Optuna's study under the grid: one study per configuration, held in memory or in an
RDB storage (--storage sqlite:///sweep.db; PostgreSQL or MySQL across machines), that
resumes and that several processes share.

Each trial's params are fixed (grid.points): a worker enqueues the first point no one
has finished or is running, and Optuna's `optimize` pops the oldest waiting trial (a
storage transaction: two workers never pop the same one). Two workers that enqueued the
same point at once both pop a copy: the higher-numbered copy sees the other and is
dropped (failed, marked `duplicate`), so each point runs once. A trial stopped by
Ctrl-C fails, and a killed process's trial fails when its heartbeat goes stale: either
way the point is free again and the next run of the same command trains it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy

from mnist_rules.errors import UsageError
from mnist_rules.grid.optuna_lib import TrialState, optuna
from mnist_rules.grid.points import Point
from mnist_rules.grid.pruner import CannotWinPruner
from mnist_rules.grid.records import FINAL, PRUNED, TUNE, TrialRecord

PREFIX = "mnist-rules"
HEARTBEAT_SECONDS = 5  # a running trial says it is alive this often (RDB storages)
GRACE_SECONDS = 20  # silent this long: its process is gone, the trial failed
POLL_SECONDS = 1.0  # waiting for other workers' trials
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (TrialState.WAITING, TrialState.RUNNING, *FINISHED)


class Duplicate(Exception):
    """This trial's point was enqueued twice; the other copy runs it."""


def study_name(configuration: dict[str, Any]) -> str:
    text = json.dumps(configuration, sort_keys=True, default=str)
    return f"{PREFIX}-{configuration['command']}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def open_study(storage: str | None, configuration: dict[str, Any]) -> optuna.Study:
    """The study of `configuration` in `storage` (None: in memory), created or resumed.
    A storage that cannot be opened, or that holds another configuration's study, is
    refused before anything in it is changed."""
    # Optuna's own warnings name the failed trials, duplicates included, with their
    # tracebacks: the grid says what failed itself.
    optuna.logging.set_verbosity(logging.ERROR)
    name = study_name(configuration)
    backend: Any = optuna.storages.InMemoryStorage()
    if storage is not None:
        backend = _rdb(storage)
        _refuse_another(backend, storage, name, configuration)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            study_name=name,
            storage=backend,
            load_if_exists=True,
            direction="minimize",  # samples to the target
            sampler=optuna.samplers.RandomSampler(seed=0),  # every param is fixed
            pruner=CannotWinPruner(),
        )
    if "configuration" not in study.user_attrs:
        study.set_user_attr("configuration", json.loads(json.dumps(configuration, default=str)))
    return study


def _rdb(url: str):
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS
                )
            if storage.engine.dialect.name == "sqlite":
                _serialize(storage.engine)
            return storage
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as error:
            # Two workers created a new database's tables at once and the other's won:
            # open it again. A storage that cannot be opened fails each time.
            failed = error
            time.sleep(POLL_SECONDS * attempt)
        except Exception as error:  # SQLAlchemy's: a bad URL, a missing driver
            failed = error
            break
    reason = str(failed).splitlines()[0] if str(failed) else type(failed).__name__
    raise UsageError(
        f"--storage {url} cannot be opened: {reason}. Give a database URL that"
        " SQLAlchemy can open, such as sqlite:///sweep.db (a file here) or"
        " postgresql://user:password@host/db (with its driver installed)."
    ) from None


def _serialize(engine) -> None:
    """Make each SQLite transaction take the database's write lock when it begins.
    SQLite has no row locks: Optuna pops a waiting trial by reading that it waits, then
    marking it running, and two workers could both read it and both run it (seen in a
    test of two workers). SQLAlchemy's recipe for pysqlite: the driver's own BEGIN off,
    BEGIN IMMEDIATE in its place; the second worker then waits, and reads it running."""

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners: closed, opened anew


def _refuse_another(backend, url: str, name: str, configuration: dict[str, Any]) -> None:
    others = [s for s in backend.get_all_studies() if s.study_name != name]
    if not others:
        return
    theirs = others[0].user_attrs.get("configuration", {})
    differ = sorted(k for k in {*theirs, *configuration} if theirs.get(k) != configuration.get(k))
    said = ", ".join(f"{k} {theirs.get(k)!r} there, {configuration.get(k)!r} here" for k in differ)
    raise UsageError(
        f"--storage {url} holds the grid of another configuration ({said or others[0].study_name})."
        " Nothing in it was changed. Run the same options as the grid it holds to go on"
        " with it, or give another --storage for this one."
    )


Objective = Callable[[Point, optuna.Trial], TrialRecord]


def run_points(study: optuna.Study, points: Sequence[Point], train_point: Objective,
               lrs: Sequence[float], seeds: Sequence[int], labels: Sequence[str],
               ) -> dict[tuple, TrialRecord]:  # fmt: skip
    """Run every point no one has finished, in order, sharing them with any other worker
    on the study; return each point's record once all are finished (waiting for the
    points other workers are running)."""
    trained: dict[tuple, TrialRecord] = {}  # the trials this process ran
    choices = {"label": list(labels), "lr": sorted(set(lrs)), "seed": list(seeds),
               "phase": [TUNE, FINAL]}  # fmt: skip

    def objective(trial: optuna.Trial) -> float:
        if not trial._fixed_params:
            # Another worker popped the last waiting trial first, so `ask` made a new
            # one from the sampler: not a point of the grid.
            trial.set_user_attr("duplicate", True)
            raise Duplicate
        point = Point(*(trial.suggest_categorical(k, v) for k, v in choices.items()))
        if _enqueued_before(study, trial.number, point):
            trial.set_user_attr("duplicate", True)
            raise Duplicate
        record = train_point(point, trial)
        trained[point.key] = record  # with what the storage does not keep (update losses)
        trial.set_user_attr("record", record.to_dict())
        hit = record.target
        trial.set_user_attr("samples_to_target", None if hit is None else hit.samples)
        if record.status == PRUNED:
            raise optuna.TrialPruned
        return math.inf if hit is None else float(hit.samples)

    while True:
        _fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        done = {_key(t): t for t in trials if t.state in FINISHED}
        if all(p.key in done for p in points):
            return {
                p.key: trained.get(p.key) or TrialRecord.from_dict(done[p.key].user_attrs["record"])
                for p in points
            }
        if any(t.state == TrialState.WAITING for t in trials):
            # Another worker may finish a trial this one was about to update (seen once
            # in a test of two workers, its cause not found): then look again.
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                study.optimize(objective, n_trials=1, catch=(Duplicate,))
            continue
        running = {_key(t) for t in trials if t.state == TrialState.RUNNING}
        free = [p for p in points if p.key not in done and p.key not in running]
        if free:
            study.enqueue_trial(free[0].params)
        else:  # the rest run in other workers (or in a killed one, until it goes stale)
            time.sleep(POLL_SECONDS)


def _key(trial: optuna.trial.FrozenTrial) -> tuple:
    # The enqueued params, not those suggested so far: another worker's trial may be
    # half-way through its suggestions when this one reads it.
    params = trial.system_attrs.get("fixed_params") or trial.params
    return tuple(params.get(k) for k in ("label", "lr", "seed", "phase"))


def _enqueued_before(study: optuna.Study, number: int, point: Point) -> bool:
    """Whether a lower-numbered trial of the same point is waiting, running or done."""
    return any(
        t.number < number and _key(t) == point.key
        for t in study.get_trials(deepcopy=False, states=TAKEN)
    )


def _fail_stale(study: optuna.Study) -> None:
    """Fail the running trials whose process stopped sending heartbeats (an RDB
    storage's; a no-op in memory)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
