"""`mnist-rules noise-scale` and `noise_scale()` end to end on the tiny generated set:
the points it measures, that they are the weights `train` leaves, its JSON, table and
figure, and the input it refuses; and sweep's measurement along its fastest size."""

import json

import pytest
import torch

import mnist_rules
from cli_runner import assert_clean_failure, invoke
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.model import build_mlp
from mnist_rules.theory.noise_scale import measure, sample_indices
from test_compare_cli import panels

N = 300


def noise_tiny(tiny_root, *args):
    return invoke("noise-scale", "--data-dir", tiny_root, "--device", "cpu",
                  "--train-subset", N, *args)  # fmt: skip


def test_it_measures_at_the_start_and_after_each_epoch(tiny_root, tmp_path):
    out, png = tmp_path / "n.json", tmp_path / "n.png"
    result = noise_tiny(tiny_root, "--samples", 200, "--epochs", 2, "--json", out, "--plot", png)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    points = data["points"]
    assert [p["epoch"] for p in points] == [0, 1, 2]
    assert [p["updates"] for p in points] == [0, 3, 6]  # 300 images, 100 per update
    assert all(p["n"] == 200 for p in points)
    assert (
        points[0]["test_acc"] is None
        and points[2]["test_acc"] == data["run"]["epochs"][1]["test_acc"]
    )
    for p in points:
        assert p["b_simple"] is None or p["b_simple"] == pytest.approx(p["trace_sigma"] / p["g2"])
    assert points[0]["b_simple"] > 0  # at random weights the mean gradient is far from 0
    assert "B_simple" in result.output and "initial weights" in result.output
    assert panels(png)[0] == "Gradient noise scale B_simple = tr(Σ) / |G|²"


def test_the_points_are_the_weights_train_leaves(tiny_root, tmp_path):
    """After one epoch, noise-scale measures what `train --epochs 1 --save` saved."""
    saved = tmp_path / "w.pt"
    trained = invoke("train", "--data-dir", tiny_root, "--device", "cpu", "--train-subset", N,
                     "--epochs", 1, "--save", saved, "--seed", 3)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    result = mnist_rules.noise_scale(data_dir=tiny_root, device="cpu", train_subset=N,
                                     samples=100, epochs=1, seed=3, quiet=True)  # fmt: skip
    model = build_mlp(3)
    model.load_state_dict(torch.load(saved))
    data = load(DatasetName.mnist, tiny_root).with_train_size(N)
    chosen = sample_indices(N, 100, 3)
    images = data.train.data[chosen].reshape(100, -1).float() / 255
    expected = measure(model, images, data.train.targets[chosen])
    assert result.readings[1].noise.b_simple == pytest.approx(expected.b_simple, rel=1e-9)
    assert result.readings[0].noise.b_simple == pytest.approx(
        measure(build_mlp(3), images, data.train.targets[chosen]).b_simple, rel=1e-9
    )
    assert "B_simple" in repr(result) or "B_simple" in result._repr_html_()


def test_epochs_0_measures_the_initial_weights_only(tiny_root, tmp_path):
    out = tmp_path / "n.json"
    result = noise_tiny(tiny_root, "--epochs", 0, "--samples", 50, "--json", out)
    assert result.exit_code == 0, result.output
    points = json.loads(out.read_text())["points"]
    assert [p["epoch"] for p in points] == [0]


def test_more_samples_than_images_measures_them_all(tiny_root, tmp_path):
    out = tmp_path / "n.json"
    result = noise_tiny(tiny_root, "--epochs", 0, "--json", out)  # 10,000 asked, 300 there
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["samples"] == N


@pytest.mark.parametrize(("args", "code", "phrase"), [
    (["--samples", 1], 2, "--samples"),
    (["--rule", "sample", "--batch-size", 10], 2, "--batch-size applies to --rule batch"),
    (["--plot", "n.txt"], 2, "the name must end in .png"),
    (["--epochs", -1], 2, "--epochs"),
])  # fmt: skip
def test_bad_input_exits_cleanly_and_writes_nothing(tiny_root, tmp_path, args, code, phrase):
    out = tmp_path / "n.json"
    result = noise_tiny(tiny_root, "--json", out, *args)
    assert_clean_failure(result, code, phrase)
    assert not out.exists()


def test_sweep_can_skip_the_noise_scale(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = invoke("sweep", "--data-dir", tiny_root, "--device", "cpu", "--train-subset", N,
                    "--sizes", "10,100", "--epochs", 1, "--target-acc", 10,
                    "--noise-samples", 0, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["model"]["noise_scale"] is None
    assert "measuring the gradient noise scale" not in result.output


def test_sweep_with_two_engines_fits_each_engines_cost(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = invoke("sweep", "--data-dir", tiny_root, "--device", "cpu", "--train-subset", N,
                    "--sizes", "10,100,all", "--engines", "torch,tuned", "--epochs", 1,
                    "--target-acc", 10, "--noise-samples", 50, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["time_to_target"]) == {
        f"{engine}/{size}" for engine in ("torch", "tuned") for size in ("10", "100", "all")
    }
    engines = data["model"]["engines"]
    assert set(engines) == {"torch", "tuned"}
    assert all(e["t0"] > 0 and e["c"] > 0 for e in engines.values())
    assert "With the torch engine," in result.output and "With the tuned engine," in result.output


def test_sweep_refuses_engine_and_engines_together(tiny_root):
    result = invoke("sweep", "--data-dir", tiny_root, "--engine", "torch", "--engines", "tuned")
    assert_clean_failure(result, 2, "--engine and --engines both name the engines")


def test_sweep_refuses_a_noise_scale_over_one_image(tiny_root, tmp_path):
    out = tmp_path / "s.json"
    result = invoke("sweep", "--data-dir", tiny_root, "--noise-samples", 1, "--json", out)
    assert_clean_failure(result, 2, "--noise-samples: the noise scale needs at least 2 images")
    assert not out.exists()


def test_noise_scale_refuses_a_training_set_of_one_image(tiny_root, tmp_path):
    out = tmp_path / "n.json"
    result = invoke("noise-scale", "--data-dir", tiny_root, "--device", "cpu",
                    "--train-subset", 1, "--rule", "sample", "--json", out)  # fmt: skip
    assert_clean_failure(result, 2, "needs at least 2 training images")
    assert not out.exists()
