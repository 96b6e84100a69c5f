"""The sweep's model read from recorded runs (report.speed_model): which steps and
seconds it takes, what it fits and predicts, and how it says so, on synthetic runs
whose laws are known: S(B) = 300·(1 + 150/B) and t(B) = t₀ + c·B per engine."""

import json
import math

import pytest

from mnist_rules.api.results import SweepResult, TrainResult
from mnist_rules.report.comparison import engine_size_label, size_label
from mnist_rules.report.speed_model import speed_model
from mnist_rules.report.speed_model_text import model_paragraph
from mnist_rules.theory.steps_fit import steps_law
from mnist_rules.training.results import EpochResult, Evaluation, RunResult

pytestmark = pytest.mark.quick

N = 60_000
TARGET = 96.0
COSTS = {"tuned": (20e-6, 1e-6), "torch": (2000e-6, 2e-6)}  # t0, c


def run_of(size, engine="tuned", seed=0, steps=None, wobble=1.0, reach=True):
    """A run that reads the target after `steps` updates (the law's, by default), each
    update taking the engine's t(B) seconds (times `wobble`)."""
    t0, c = COSTS[engine]
    steps = round(steps_law(size, 300.0, 150.0)) if steps is None else steps
    per_update = (t0 + c * size) * wobble
    run = RunResult(
        rule="sample" if size == 1 else "batch", engine=engine, device="cpu",
        device_name="test CPU", dataset="mnist", lr=0.1, batch_size=size, seed=seed,
        train_size=N, test_size=100, shuffle=False, torch_version="x",
        mnist_rules_version="x", threads=1,
    )  # fmt: skip
    before = Evaluation(1, steps // 2, steps // 2 * size, steps // 2 * per_update, 80.0)
    at = Evaluation(1, steps, steps * size, steps * per_update, TARGET + 1 if reach else 90.0)
    run.evaluations = [before, at]
    run.epochs = [EpochResult(1, 0.3, at.test_acc, at.train_seconds, steps, 0.1)]
    return TrainResult.of(run)


def sweep_of(runs, label=size_label, noise=None):
    return SweepResult(runs, TARGET, label=label, noise_scale=noise)


SIZES = [1, 10, 100, 1000, 10000]


def test_the_model_recovers_the_laws_the_runs_were_made_from():
    model = speed_model(sweep_of([run_of(b) for b in SIZES]))
    assert model.steps.b_crit.value == pytest.approx(150.0, rel=0.01)
    assert model.steps.s_min.value == pytest.approx(300.0, rel=0.01)
    tuned = model.engines["tuned"]
    assert tuned.cost.t0.value == pytest.approx(20e-6, rel=1e-3)
    assert tuned.cost.c.value == pytest.approx(1e-6, rel=1e-3)
    assert tuned.predicted_best(model.steps) == pytest.approx(math.sqrt(150 * 20), rel=0.01)
    # The measured best among the sizes swept: 100, nearest B* ≈ 55 (T(100) < T(10)).
    assert tuned.measured_best == 100


def test_steps_are_the_median_over_the_seeds_that_reached_the_target():
    runs = [run_of(100, seed=s, steps=n) for s, n in enumerate((400, 500, 900))]
    runs += [run_of(10, seed=s) for s in range(3)]
    model = speed_model(sweep_of(runs))
    assert model.steps_measured[100] == [400, 500, 900]
    assert dict(zip(model.steps.sizes, model.steps.steps, strict=True))[100] == 500


def test_a_size_that_missed_the_target_is_left_out_of_the_steps_fit_but_not_the_cost_fit():
    runs = [run_of(b) for b in (1, 10, 100)] + [run_of(1000, steps=200, reach=False)]
    model = speed_model(sweep_of(runs))
    assert model.not_reached == {1000: 200}  # the updates it trained, short of the target
    assert model.steps.sizes == [1, 10, 100]
    assert model.engines["tuned"].cost.sizes == [1, 10, 100, 1000]
    data = model.to_dict()
    assert data["steps_not_fitted"] is None
    [missed] = data["not_reached"]
    assert missed["size"] == 1000 and missed["updates_trained"] == 200
    assert missed["fitted"] == pytest.approx(model.steps.steps_at(1000))
    text = model_paragraph(model)
    assert "Size 1,000 did not reach the target in the 200 updates it trained" in text
    assert "and the fit is held above that: it says it needs 340" in text  # 300·(1 + 150/1000)


def test_with_one_size_at_the_target_there_is_no_steps_fit_and_it_says_why():
    runs = [run_of(10), run_of(100, reach=False)]
    model = speed_model(sweep_of(runs))
    assert model.steps is None
    data = model.to_dict()
    assert data["b_crit"] is None and data["engines"]["tuned"]["predicted_best_size"] is None
    assert "fewer than two sizes reached the target" in model_paragraph(model)


def test_the_json_carries_the_fits_and_the_prediction_for_each_engine():
    runs = [run_of(b, engine) for engine in ("torch", "tuned") for b in SIZES]
    result = sweep_of(runs, label=engine_size_label)
    data = json.loads(json.dumps(result.to_dict()))  # as --json writes it: plain JSON
    model = data["model"]
    for key in ("b_crit", "s_min"):
        assert math.isfinite(model[key])
    assert set(model["engines"]) == {"torch", "tuned"}
    for engine in model["engines"].values():
        for key in ("t0", "c", "predicted_best_size"):
            assert math.isfinite(engine[key]) and engine[key] > 0
        assert [p["size"] for p in engine["time_to_target"]] == SIZES
    torch_best = model["engines"]["torch"]["predicted_best_size"]
    tuned_best = model["engines"]["tuned"]["predicted_best_size"]
    assert torch_best / tuned_best == pytest.approx(math.sqrt((2000 / 2) / (20 / 1)), rel=0.01)


def test_the_paragraph_says_where_the_best_size_lies_and_why_the_engines_differ():
    runs = [run_of(b, engine) for engine in ("torch", "tuned") for b in SIZES]
    text = model_paragraph(speed_model(sweep_of(runs, label=engine_size_label)))
    assert "B_crit = 150" in text and "S_min = 300" in text
    assert "On the tuned engine an update costs t₀ = 20 µs plus c = 1.0 µs a sample" in text
    assert "The engines disagree because" in text
    assert "its B* 7.1x larger" in text  # sqrt(1000 / 20)
    assert "predicts every size's time to the target within 1.5x" in text


def test_a_miss_is_named_with_its_factor():
    """Size 1000 took 3x the seconds its law gives: the model misses it, by that much."""
    runs = [run_of(b) for b in (1, 10, 100, 10000)] + [run_of(1000, wobble=3.0)]
    text = model_paragraph(speed_model(sweep_of(runs)))
    assert "The model misses the time to the target at size 1,000" in text


def test_the_noise_scale_is_set_beside_b_crit():
    points = [{"epoch": 0, "b_simple": 50.0}, {"epoch": 1, "b_simple": 200.0}]
    noise = {"label": "10", "lr": 0.1, "seed": 0, "samples": 1000, "points": points}
    model = sweep_of([run_of(b) for b in SIZES], noise=noise).model()
    text = model_paragraph(model)
    assert "B_simple along size 10's training: 50 at the start and 200 after epoch 1" in text
    assert "B_crit is 3.0x its initial value" in text
    assert (
        sweep_of([run_of(b) for b in SIZES], noise=noise).to_dict()["model"]["noise_scale"] == noise
    )


def test_the_sweep_figure_has_the_steps_panel(tmp_path):
    from mnist_rules.report.plots import save_figure
    from test_compare_cli import panels

    runs = [run_of(b, engine) for engine in ("torch", "tuned") for b in SIZES]
    save_figure(sweep_of(runs, label=engine_size_label).plot(), tmp_path / "s.png")
    titles = panels(tmp_path / "s.png")
    assert titles[1] == "Steps to the target against samples per update"
    assert len(titles) == 3


def test_it_says_when_b_crit_is_an_extrapolation_and_when_the_law_cannot_hold():
    """Steps ten-fold fewer per decade of size: all perfect scaling, B_crit only bounded
    below; and size 1,000 short of the target after 5,000 updates, which no S(B) of the
    law's form allows beside them."""
    runs = [run_of(b, steps=s) for b, s in ((1, 100000), (10, 10000), (100, 1000))]
    text = model_paragraph(speed_model(sweep_of(runs)))
    assert "Every size that reached the target is in perfect scaling" in text
    assert "The law cannot hold them all" not in text
    text = model_paragraph(speed_model(sweep_of([*runs, run_of(1000, steps=5000, reach=False)])))
    assert "The law cannot hold them all: even so it says size 1,000 needed fewer" in text
    data = speed_model(sweep_of([*runs, run_of(1000, steps=5000, reach=False)])).to_dict()
    assert data["not_reached"][0]["contradicts_fit"] is True


def test_a_floor_the_fit_rests_on_bounds_b_crit_from_above():
    """Sizes 1 and 10 in perfect scaling, 100 short of the target after 1,200 updates:
    the floor pins B_crit, so it is not called an extrapolation."""
    runs = [run_of(1, steps=60000), run_of(10, steps=6000), run_of(100, steps=1200, reach=False)]
    model = speed_model(sweep_of(runs))
    assert model.steps.b_crit.value < 1000
    assert "extrapolation" not in model_paragraph(model)


def test_engines_with_the_same_best_size_are_not_said_to_disagree():
    """Two engines whose t₀/c differ 4x: B* moves 2x; both measured best at the same size."""
    COSTS["slow"] = (80e-6, 1e-6)
    try:
        runs = [run_of(b, engine) for engine in ("slow", "tuned") for b in (10, 100, 1000)]
        text = model_paragraph(speed_model(sweep_of(runs, label=engine_size_label)))
    finally:
        del COSTS["slow"]
    assert "disagree" not in text
    assert "The engines measure the same best size: slow's t₀/c is 4.0x tuned's" in text


def test_runs_without_readings_and_diverged_seeds_do_not_break_the_model():
    """A size whose hits carry no update counts (results without evaluations) has no
    steps to fit; a size whose every seed diverged is no floor."""
    bare = run_of(10)
    bare.evaluations = []  # written before schema 4: time to target read at epoch ends
    runs = [bare, run_of(100), run_of(1000)]
    model = speed_model(sweep_of(runs))
    assert model.steps.sizes == [100, 1000]
    assert 10 not in model.not_reached
    json.dumps(sweep_of(runs).to_dict(), allow_nan=False)  # strict JSON
