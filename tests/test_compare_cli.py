"""`mnist-rules compare` end to end on the tiny generated set: what it prints, and the
JSON, CSV and plot it writes."""

import csv
import json
import math

import pytest
from PIL import Image

from cli_runner import assert_clean_failure, invoke
from mnist_rules.data import mnist as data_mod
from mnist_rules.report.comparison import time_to_target
from mnist_rules.training.results import EpochResult, Evaluation, RunResult

N, B = 300, 64  # a subset of the tiny set, and a batch that does not divide it


def compare_tiny(tiny_root, *args):
    return invoke(
        "compare",
        "--data-dir",
        tiny_root,
        "--device",
        "cpu",
        "--train-subset",
        N,
        "--batch-size",
        B,
        *args,
    )


def panels(png):
    """The panel titles save_figure wrote into the PNG, after checking it is whole."""
    with Image.open(png) as image:
        assert image.format == "PNG"
        image.verify()  # chunks and CRCs intact
    with Image.open(png) as image:
        image.load()  # and the pixels decode
        assert image.width > 1000
        return image.text["Description"].split("; ")


def run_from_json(d):
    epochs = [EpochResult(**e) for e in d.pop("epochs")]
    evaluations = [Evaluation(**e) for e in d.pop("evaluations", [])]
    return RunResult(**d, epochs=epochs, evaluations=evaluations)


@pytest.fixture(scope="module")
def outputs(tiny_root, tmp_path_factory):
    """One three-rule comparison, shared by the tests that read its files."""
    out = tmp_path_factory.mktemp("compare")
    result = compare_tiny(
        tiny_root,
        "--epochs",
        3,
        "--target-acc",
        50,
        "--json",
        out / "c.json",
        "--csv",
        out / "c.csv",
        "--plot",
        out / "c.png",
    )
    assert result.exit_code == 0, result.output
    return result, out


def test_json_has_one_run_per_rule_with_its_updates_per_epoch(outputs):
    _, out = outputs
    data = json.loads((out / "c.json").read_text())
    assert set(data) >= {"runs", "target_acc", "time_to_target"}
    assert [r["rule"] for r in data["runs"]] == ["epoch", "batch", "sample"]
    assert data["target_acc"] == 50.0
    per_epoch = {r["rule"]: [e["updates"] for e in r["epochs"]] for r in data["runs"]}
    assert per_epoch == {"epoch": [1] * 3, "batch": [math.ceil(N / B)] * 3, "sample": [N] * 3}
    assert [(r["lr"], r["batch_size"]) for r in data["runs"]] == [(0.1, N), (0.1, B), (0.01, 1)]
    assert all(r["train_size"] == N and r["test_size"] == 200 for r in data["runs"])


def test_json_time_to_target_agrees_with_the_recorded_epochs(outputs):
    _, out = outputs
    data = json.loads((out / "c.json").read_text())
    reached = 0
    for run in data["runs"]:
        hit = time_to_target(run_from_json(dict(run)), 50.0)
        got = data["time_to_target"][run["rule"]]  # over the rule's one seed
        if hit is None:
            assert got["reached"] == 0 and got["seconds"] is None and got["per_seed"] == [None]
        else:
            reached += 1
            assert got["per_seed"] == [{"seed": run["seed"], "seconds": hit.seconds,
                                        "updates": hit.updates, "samples": hit.samples,
                                        "epoch": hit.epoch}]  # fmt: skip
            assert got["seconds"]["median"] == hit.seconds and got["median_epoch"] == hit.epoch
            # the first reading at or above the target (several an epoch: --evals-per-epoch)
            first = next(e for e in run["evaluations"] if e["test_acc"] >= 50.0)
            assert (hit.epoch, hit.seconds) == (first["epoch"], first["train_seconds"])
    assert reached >= 1  # the tiny set is learnable: the sample rule passes 50% at once


def test_printed_tables_and_verdict_agree_with_the_json(outputs):
    result, out = outputs
    data = json.loads((out / "c.json").read_text())
    text = result.output
    assert "The update rules compared" in text and "Test accuracy (%) after each epoch" in text
    for run in data["runs"]:
        for e in run["epochs"]:
            assert f"{e['test_acc']:.2f}" in text
    winner = min(
        (hit["seconds"]["median"], rule)
        for rule, hit in data["time_to_target"].items()
        if hit["seconds"] is not None
    )[1]
    assert f"he {winner} rule reached 50%" in text  # "The ... first" or "Only the ..."
    assert "c.json" in text and "c.csv" in text and "c.png" in text
    # not a terminal: no progress bar frames and no terminal curve
    assert "epochs in all" not in text and "per epoch; gridline" not in text


def test_csv_rows_match_the_json(outputs):
    _, out = outputs
    data = json.loads((out / "c.json").read_text())
    with open(out / "c.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [(r["rule"], e) for r in data["runs"] for e in r["epochs"]]
    assert len(rows) == len(expected) == 9
    for row, (rule, e) in zip(rows, expected, strict=True):
        assert row["rule"] == rule and int(row["epoch"]) == e["epoch"]
        assert float(row["test_acc"]) == e["test_acc"]
        assert float(row["train_seconds"]) == e["train_seconds"]


def test_plot_is_a_png_with_three_panels(outputs):
    _, out = outputs
    assert panels(out / "c.png") == [
        "Training loss per epoch",
        "Test accuracy per epoch",
        "Test accuracy against training time",
    ]


def test_update_losses_add_a_fourth_panel(tiny_root, tmp_path):
    png = tmp_path / "u.png"
    result = compare_tiny(
        tiny_root, "--epochs", 1, "--rules", "batch,sample", "--update-losses", "--plot", png
    )
    assert result.exit_code == 0, result.output
    assert len(panels(png)) == 4 and panels(png)[3].startswith("Loss of every update")


def test_data_is_loaded_once_for_all_rules(tiny_root, monkeypatch):
    calls = []
    real_load = data_mod.load

    def counting_load(*args, **kwargs):
        calls.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(data_mod, "load", counting_load)
    result = compare_tiny(tiny_root, "--epochs", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1 and result.output == ""


def test_rules_run_in_the_order_given_with_their_own_learning_rates(tiny_root, tmp_path):
    out = tmp_path / "c.json"
    result = compare_tiny(
        tiny_root,
        "--epochs",
        1,
        "--rules",
        "sample, batch",
        "--lr-sample",
        0.02,
        "--lr-batch",
        0.05,
        "--json",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert [(r["rule"], r["lr"]) for r in runs] == [("sample", 0.02), ("batch", 0.05)]


@pytest.mark.parametrize(
    "args,phrase",
    [
        (["--rules", "epoch,bogus"], "unknown rule 'bogus'"),
        (["--rules", "batch,batch"], "each rule may be named once"),
        (["--rules", " , "], "--rules needs at least one"),
        (["--rules", "batch", "--lr-sample", "0.1"], "--lr-sample was given"),
        (["--rules", "sample", "--batch-size", "10"], "--batch-size applies to the batch rule"),
        (["--lr-batch", "0"], "--lr-batch must be a positive finite number"),
        (["--epochs", "0"], "--epochs"),
        (["--target-acc", "101"], "--target-acc"),
        (["--plot", "c.jpeg"], "must end in .png, .svg, .pdf"),
        (["--update-losses"], "give --plot PATH too"),
    ],
)
def test_bad_options_exit_2_with_a_message(tiny_root, args, phrase):
    assert_clean_failure(invoke("compare", "--data-dir", tiny_root, *args), 2, phrase)


def test_outputs_are_checked_before_any_training(tiny_root, tmp_path):
    result = invoke(
        "compare",
        "--data-dir",
        tiny_root,
        "--json",
        tmp_path / "ok.json",
        "--plot",
        tmp_path / "missing" / "c.png",
    )
    assert_clean_failure(result, 2, "--plot", "does not exist")
    assert "epoch 1" not in result.output
    assert not (tmp_path / "ok.json").exists()


def test_missing_data_is_reported_once_before_any_rule_runs(tmp_path, offline):
    result = invoke("compare", "--data-dir", tmp_path / "empty", "--json", tmp_path / "c.json")
    assert_clean_failure(result, 1, "could not be downloaded", "train-images-idx3-ubyte")
    assert "rule (" not in result.output and not (tmp_path / "c.json").exists()


def test_compare_streams_a_set_for_every_rule(tiny_root, tmp_path):
    """One mapped set shared by the three runs; the rules in dataset order make the
    resident mode's updates, so their accuracies are the resident ones."""

    def accuracies(mode):
        out = tmp_path / f"{mode}.json"
        result = invoke("compare", "--epochs", "1", "--engine", "tuned", "--device", "cpu",
                        "--data-dir", tiny_root, "--data-mode", mode, "--stream-block", "100",
                        "--json", out, "--quiet")  # fmt: skip
        assert result.exit_code == 0, result.output
        runs = json.loads(out.read_text())["runs"]
        assert {r["data_mode"] for r in runs} == {mode}
        return {r["rule"]: r["epochs"][0]["test_acc"] for r in runs}

    streamed, resident = accuracies("stream"), accuracies("resident")
    assert streamed["epoch"] == resident["epoch"] and streamed["sample"] == resident["sample"]


@pytest.mark.parametrize("mode", ["graph", "compile"])
def test_compare_refuses_stream_mode_with_captured_steps(tiny_root, mode):
    result = invoke("compare", "--data-mode", "stream", "--step-mode", mode, "--engine",
                    "tuned", "--data-dir", tiny_root)  # fmt: skip
    assert_clean_failure(result, 2, f"--data-mode stream cannot run --step-mode {mode}")


def test_engines_runs_each_rule_on_each_engine_from_the_same_weights(tiny_root, tmp_path):
    out, table = tmp_path / "e.json", tmp_path / "e.csv"
    result = compare_tiny(
        tiny_root, "--rules", "epoch,batch", "--engines", "torch,tuned", "--epochs", 2,
        "--target-acc", 20, "--json", out, "--csv", table,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert [(r["engine"], r["rule"]) for r in runs] == [
        ("torch", "epoch"), ("torch", "batch"), ("tuned", "epoch"), ("tuned", "batch")
    ]  # fmt: skip
    # The epoch rule's first epoch is its first update, its loss taken before it: the
    # same initial weights give both engines the same loss.
    first = [r["epochs"][0]["train_loss"] for r in runs if r["rule"] == "epoch"]
    assert first[0] == pytest.approx(first[1], rel=1e-6)
    keys = json.loads(out.read_text())["time_to_target"]
    assert set(keys) == {"torch/epoch", "torch/batch", "tuned/epoch", "tuned/batch"}
    rows = list(csv.DictReader(table.open()))
    assert [(r["engine"], r["rule"]) for r in rows[::2]] == [(r["engine"], r["rule"]) for r in runs]
    assert "With the torch engine," in result.output and "With the tuned engine," in result.output
    assert "The engines agree" in result.output or "The engines disagree" in result.output


@pytest.mark.parametrize(("engines", "phrase"), [
    ("torch,foo", "--engines: unknown engine 'foo'"),
    ("tuned,tuned", "each engine may be named once"),
])  # fmt: skip
def test_bad_engines_exit_2_and_write_nothing(tiny_root, tmp_path, engines, phrase):
    out = tmp_path / "e.json"
    result = compare_tiny(tiny_root, "--engines", engines, "--json", out)
    assert_clean_failure(result, 2, phrase)
    assert not out.exists()


def test_engine_and_engines_together_are_refused(tiny_root):
    result = compare_tiny(tiny_root, "--engine", "torch", "--engines", "torch,tuned")
    assert_clean_failure(result, 2, "--engine and --engines both name the engines")
