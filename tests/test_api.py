"""The Python API (mnist_rules.train, compare, sweep, profile) on the tiny generated set:
what each returns, that it equals the JSON the command writes for the same options,
and what a notebook user gets on top (to_dataframe, plot, the displayed tables)."""

import json
import subprocess
import sys

import pytest
from matplotlib.figure import Figure

import mnist_rules
from cli_runner import invoke
from dev_packages import require
from mnist_rules.report.comparison import CSV_COLUMNS

# What differs between two runs of the same options: the clock, and memory.
# Timings, and what is made from them: sweep's cost fits per engine, and its noise
# scale (measured along the size that was fastest).
TIMINGS = {"train_seconds", "eval_seconds", "compile_seconds", "peak_memory_bytes", "seconds",
           "engines", "noise_scale"}  # fmt: skip
PROFILE_SAME = ("rule", "engine", "device", "steps", "warmup", "transfer_mode", "data_mode",
                "pinned", "step_mode", "updates_per_epoch", "schema_version")  # fmt: skip


def without_timings(value):
    """`value` (a result's dict) with every timing left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def cli_json(tmp_path, command, *args):
    out = tmp_path / f"{command}.json"
    result = invoke(command, *args, "--json", out, "--quiet")
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_importing_the_package_and_finding_the_api_does_not_import_torch():
    code = (
        "import sys, mnist_rules\n"
        "assert 'torch' not in sys.modules\n"
        "for name in ('train', 'compare', 'sweep', 'profile', 'noise_scale', 'UserError'):\n"
        "    getattr(mnist_rules, name)\n"
        "print(sorted(m for m in ('torch', 'rich', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_dir_lists_them():
    for name in mnist_rules.__all__:
        assert getattr(mnist_rules, name) is not None
    assert set(mnist_rules.__all__) <= set(dir(mnist_rules))
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        mnist_rules.trian  # noqa: B018


def test_train_returns_the_run_that_train_json_writes(tiny_root, tmp_path):
    options = dict(rule="batch", epochs=2, seed=3, batch_size=64, train_subset=300)
    run = mnist_rules.train(data_dir=tiny_root, device="cpu", quiet=True, **options)
    assert isinstance(run, mnist_rules.TrainResult)
    assert [e.epoch for e in run.epochs] == [1, 2] and run.epochs[-1].updates == 5
    assert 0 <= run.epochs[-1].test_acc <= 100 and run.epochs[-1].train_seconds > 0
    args = [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", v)]
    written = cli_json(tmp_path, "train", "--data-dir", tiny_root, "--device", "cpu", *args)
    assert without_timings(run.to_dict()) == without_timings(written)


def test_train_prints_what_the_command_prints_unless_quiet(tiny_root, capsys):
    mnist_rules.train(rule="epoch", epochs=2, data_dir=tiny_root, device="cpu")
    out = capsys.readouterr().out
    assert "epoch rule (one update per epoch" in out and "epoch 2/2  train loss" in out
    assert "final test accuracy" in out
    mnist_rules.train(rule="epoch", epochs=1, data_dir=tiny_root, device="cpu", quiet=True)
    assert capsys.readouterr().out == ""


def test_a_missed_require_acc_is_a_user_error_not_an_exit(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    with pytest.raises(mnist_rules.UserError, match=r"below --require-acc 100%\.$"):
        mnist_rules.train(epochs=1, data_dir=tiny_root, device="cpu", require_acc=100,
                          json_out=out, quiet=True)  # fmt: skip
    assert out.exists()  # written before the check, as the command does


@pytest.fixture(scope="module")
def compared(tiny_root):
    return mnist_rules.compare(
        epochs=3, target_acc=50, train_subset=300, batch_size=64, data_dir=tiny_root,
        device="cpu", update_losses=True, quiet=True,
    )  # fmt: skip


def test_compare_returns_what_compare_json_writes(compared, tiny_root, tmp_path):
    assert isinstance(compared, mnist_rules.CompareResult)
    assert [run.rule for run in compared.runs] == ["epoch", "batch", "sample"]
    assert all(isinstance(run, mnist_rules.TrainResult) for run in compared.runs)
    args = ["--epochs", 3, "--target-acc", 50, "--train-subset", 300, "--batch-size", 64]
    written = cli_json(tmp_path, "compare", *args, "--data-dir", tiny_root, "--device", "cpu")
    assert without_timings(compared.to_dict()) == without_timings(written)


def test_compare_result_finds_runs_plots_and_tabulates(compared):
    assert compared.run("sample").batch_size == 1
    with pytest.raises(KeyError, match="the runs are 'epoch', 'batch', 'sample'"):
        compared.run("minibatch")
    figure = compared.plot()
    assert isinstance(figure, Figure) and len(figure.axes) == 4  # with the update losses
    assert len(compared.update_losses["sample"]) == 3 * 300
    html = compared._repr_html_()
    assert html.startswith("<pre") and "The update rules compared" in html
    assert "Test accuracy (%) after each epoch" in html and "reached 50%" in html


def test_a_train_result_shows_the_lines_train_prints(compared):
    run = compared.run("batch")
    text = run_text(run)
    assert text.splitlines()[0].startswith("batch rule (one update per mini-batch): lr 0.1")
    assert "epoch 3/3  train loss" in text and text.splitlines()[-1].startswith("final test")
    assert len(run.plot().axes) == 3


def run_text(result) -> str:
    class Printer:  # IPython's pretty printer, as far as _repr_pretty_ uses it
        def text(self, text):
            self.out = text

    printer = Printer()
    result._repr_pretty_(printer, cycle=False)
    return printer.out


def test_sweep_returns_what_sweep_json_writes_and_takes_a_list_of_sizes(tiny_root, tmp_path):
    swept = mnist_rules.sweep(sizes=[1, 64, "all"], epochs=2, target_acc=50,
                              data_dir=tiny_root, device="cpu", quiet=True)  # fmt: skip
    assert isinstance(swept, mnist_rules.SweepResult)
    assert [run.batch_size for run in swept.runs] == [1, 64, 512]
    assert swept.run(64) is swept.runs[1] and swept.run("all").rule == "epoch"
    written = cli_json(tmp_path, "sweep", "--sizes", "1,64,all", "--epochs", 2, "--target-acc",
                       50, "--data-dir", tiny_root, "--device", "cpu")  # fmt: skip
    assert without_timings(swept.to_dict()) == without_timings(written)
    assert len(swept.plot().axes) == 3
    assert "Samples per update swept" in run_text(swept)


def test_profile_returns_the_figures_profile_json_writes(tiny_root, tmp_path):
    measured = mnist_rules.profile(rule="batch", steps=4, warmup=1, data_dir=tiny_root,
                                   device="cpu", quiet=True)  # fmt: skip
    assert isinstance(measured, mnist_rules.ProfileResult)
    parts = sum(measured.part_us(p) for p in ("data", "stall", "transfer", "compute", "overhead"))
    assert parts == pytest.approx(measured.per_step_us)
    written = cli_json(tmp_path, "profile", "--rule", "batch", "--steps", 4, "--warmup", 1,
                       "--data-dir", tiny_root, "--device", "cpu")  # fmt: skip
    assert set(measured.to_dict()) == set(written)
    assert {k: measured.to_dict()[k] for k in PROFILE_SAME} == {k: written[k] for k in PROFILE_SAME}
    assert "update steps after 1 warm-up" in run_text(measured)
    assert measured.rows() == [measured.to_dict()]


def test_results_as_dataframes_have_the_csvs_columns(compared):
    require("pandas")
    frame = compared.to_dataframe()
    assert list(frame.columns) == list(CSV_COLUMNS) and len(frame) == 9
    assert frame["test_acc"].tolist() == [e.test_acc for r in compared.runs for e in r.epochs]
    assert list(compared.run("batch").to_dataframe().columns) == list(CSV_COLUMNS)


def test_to_dataframe_without_pandas_says_how_to_get_it(compared, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match=r"needs pandas.*pip install pandas.*to_dict\(\)"):
        compared.to_dataframe()
