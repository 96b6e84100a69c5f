"""The command line, through typer's CliRunner (and a subprocess where start-up or the
real entry point matters)."""

import json
import subprocess
import sys

import pytest
import torch

import mnist_rules
from cli_runner import assert_clean_failure, invoke
from mnist_rules.model import build_mlp


def train_tiny(tiny_root, *args):
    return invoke("train", "--data-dir", tiny_root, "--device", "cpu", *args)


def test_version_and_help():
    result = invoke("--version")
    assert (
        result.exit_code == 0 and result.output.strip() == f"mnist-rules {mnist_rules.__version__}"
    )
    result = invoke("--help")
    assert result.exit_code == 0 and "train" in result.output
    assert "--rule" in invoke("train", "--help").output


@pytest.mark.parametrize("command", ["train", "compare"])
def test_help_does_not_import_torch(command):
    # --help must answer at once: torch (seconds to import) is loaded inside commands only.
    code = f"""
import sys
from mnist_rules.cli import main
sys.argv = ["mnist-rules", "{command}", "--help"]
try:
    main()
except SystemExit:
    pass
heavy = ("torch", "torchvision", "matplotlib", "uniplot")
print("LOADED", sorted(m for m in heavy if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout


def test_a_tuned_batch_run_imports_no_torchvision_dynamo_or_numba(tiny_root, tmp_path):
    # Start-up (docs/engines.md): the files are read without torchvision (its ops import
    # torch._dynamo, ~1.3 s), and numba is for the kernel step mode only.
    args = ["train", "--rule", "batch", "--engine", "tuned", "--epochs", "1", "--device",
            "cpu", "--data-dir", str(tiny_root), "--json", str(tmp_path / "r.json")]  # fmt: skip
    code = f"""
import sys
from mnist_rules.cli import main
sys.argv = ["mnist-rules", *{args!r}]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = ("torchvision", "torch._dynamo", "torch._inductor", "numba", "matplotlib", "scipy")
print("LOADED", sorted(m for m in heavy if m in sys.modules))
import gc
print("FROZEN", gc.get_freeze_count() > 0)  # the interpreter's exit need not collect them
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout and "FROZEN True" in out.stdout
    assert json.loads((tmp_path / "r.json").read_text())["epochs"][0]["updates"] == 6


def test_train_writes_results_json_and_weights(tiny_root, tmp_path):
    out, weights = tmp_path / "r.json", tmp_path / "w.pt"
    result = train_tiny(
        tiny_root,
        "--rule",
        "batch",
        "--epochs",
        "2",
        "--json",
        out,
        "--save",
        weights,
        "--seed",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert "epoch 1/2" in result.output and "epoch 2/2" in result.output
    assert "final test accuracy" in result.output

    data = json.loads(out.read_text())
    for key, kind in [
        ("rule", str),
        ("engine", str),
        ("device", str),
        ("dataset", str),
        ("lr", float),
        ("batch_size", int),
        ("seed", int),
        ("train_size", int),
        ("torch_version", str),
        ("epochs", list),
    ]:
        assert isinstance(data[key], kind), key
    assert (data["rule"], data["lr"], data["batch_size"], data["seed"]) == ("batch", 0.1, 100, 4)
    assert data["train_size"] == 512 and data["device"] == "cpu"
    assert [e["epoch"] for e in data["epochs"]] == [1, 2]
    for epoch in data["epochs"]:
        assert set(epoch) >= {"epoch", "train_loss", "test_acc", "train_seconds", "updates"}
        assert epoch["updates"] == 6 and 0 <= epoch["test_acc"] <= 100
        assert epoch["train_seconds"] > 0
    assert f"{data['epochs'][-1]['test_acc']:.2f}%" in result.output

    state = torch.load(weights, weights_only=True)
    assert state.keys() == build_mlp(0).state_dict().keys()
    assert not torch.equal(state["fc1.weight"], build_mlp(4).fc1.weight)  # trained weights


@pytest.mark.parametrize("rule,updates", [("epoch", 1), ("sample", 512)])
def test_each_rule_records_its_updates(tiny_root, tmp_path, rule, updates):
    out = tmp_path / "r.json"
    result = train_tiny(tiny_root, "--rule", rule, "--epochs", "1", "--json", out, "--quiet")
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text())["epochs"][0]["updates"] == updates


def test_data_dir_comes_from_the_environment(tiny_root, monkeypatch):
    monkeypatch.setenv("MNIST_RULES_DATA", str(tiny_root))
    result = invoke("train", "--epochs", "1", "--train-subset", "64", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "64 train" in result.output


@pytest.mark.parametrize(
    "args,phrase",
    [
        (["--rule", "bogus"], "--rule"),
        (["--engine", "bogus"], "--engine"),
        (["--dataset", "cifar"], "--dataset"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--train-subset", "0"], "--train-subset"),
        (["--lr", "-1"], "--lr must be a positive finite number"),
        (["--lr", "nan"], "--lr must be a positive finite number"),
        (["--rule", "sample", "--batch-size", "10"], "--batch-size applies to --rule batch"),
        (["--batch-size", "1000"], "larger than the training set"),
        (["--train-subset", "100000"], "--train-subset must be between 1 and 512"),
    ],
)
def test_bad_options_exit_2_with_a_message(tiny_root, args, phrase):
    assert_clean_failure(train_tiny(tiny_root, *args), 2, phrase)


def test_output_in_a_missing_directory_is_refused_before_training(tiny_root, tmp_path):
    result = train_tiny(tiny_root, "--json", tmp_path / "no" / "r.json")
    assert_clean_failure(result, 2, "does not exist")
    assert "epoch 1" not in result.output


def test_missing_data_without_internet_exits_1_naming_the_files(tmp_path, offline):
    result = invoke("train", "--data-dir", tmp_path / "empty", "--json", tmp_path / "r.json")
    assert_clean_failure(
        result,
        1,
        "could not be downloaded",
        "train-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        str(tmp_path / "empty"),
    )
    assert not (tmp_path / "r.json").exists()


def test_cuda_without_a_gpu_is_a_clear_error(tiny_root, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("train", "--data-dir", tiny_root, "--device", "cuda")
    assert_clean_failure(result, 1, "--device cuda", "no CUDA GPU")


def test_require_acc_fails_the_run_below_the_target(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    result = train_tiny(tiny_root, "--epochs", "1", "--require-acc", "100", "--json", out)
    assert_clean_failure(result, 1, "below --require-acc 100%")
    assert out.exists()  # the results are kept: the run itself finished
    assert train_tiny(tiny_root, "--epochs", "1", "--require-acc", "0").exit_code == 0


def test_unexpected_errors_are_one_paragraph_and_debug_shows_the_traceback(tiny_root, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("mnist_rules.training.loop.build_mlp", boom)
    assert_clean_failure(train_tiny(tiny_root), 1, "Unexpected RuntimeError: simulated failure")
    result = invoke("--debug", "train", "--data-dir", tiny_root)
    assert isinstance(result.exception, RuntimeError)


def test_console_script_runs_end_to_end(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_rules",
            "train",
            "--data-dir",
            str(tiny_root),
            "--rule",
            "epoch",
            "--epochs",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert [e["updates"] for e in json.loads(out.read_text())["epochs"]] == [1, 1]
