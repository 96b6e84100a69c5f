"""Every bad input, through every command that takes it: a one-paragraph message on
stderr that says what was wrong, exit 2 (usage) or 1 (the rest), no traceback, and no
output file left behind, not even a temporary one."""

import os
from pathlib import Path

import pytest
import torch

from cli_runner import invoke
from idx_files import write_dataset, write_idx

COMMANDS = ("train", "compare", "profile", "sweep", "noise-scale")
# Each command's output files; all are given, so that none may be left half-written.
OUTPUTS = {
    "train": [("--json", "r.json"), ("--save", "w.pt"), ("--checkpoint", "c.pt")],
    "compare": [("--json", "c.json"), ("--csv", "c.csv"), ("--plot", "c.png")],
    "profile": [("--json", "p.json"), ("--trace", "t.json")],
    "sweep": [("--json", "s.json"), ("--csv", "s.csv"), ("--plot", "s.png")],
    "noise-scale": [("--json", "n.json"), ("--plot", "n.png")],
}
QUICK = {"train": ["--epochs", "1"], "compare": ["--epochs", "1"], "profile": ["--steps", "2"],
         "sweep": ["--epochs", "1", "--sizes", "1,all"],
         "noise-scale": ["--epochs", "1", "--samples", "50"]}  # fmt: skip


def run(command, data_dir, out_dir, *args, outputs=True):
    out_dir.mkdir(exist_ok=True)
    files = [x for option, name in OUTPUTS[command] for x in (option, out_dir / name)]
    return invoke(command, "--device", "cpu", "--data-dir", data_dir, *QUICK[command],
                  *(files if outputs else []), *args)  # fmt: skip


def assert_refused(result, code, phrase, out_dir):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert phrase in result.stderr, result.stderr
    assert list(out_dir.iterdir()) == []  # nothing written, no temporary files


# (command, extra arguments, exit code, phrase)
OPTIONS = [
    *[(c, ["--epochs", "0"], 2, "--epochs") for c in ("train", "compare", "sweep")],
    ("profile", ["--steps", "0"], 2, "--steps"),
    *[("train", ["--lr", v], 2, "--lr must be a positive finite number")
      for v in ("0", "-1", "nan", "inf")],
    *[("compare", [f"--lr-{r}", v], 2, f"--lr-{r} must be a positive finite number")
      for r, v in (("epoch", "0"), ("batch", "-0.5"), ("sample", "nan"), ("batch", "inf"))],
    ("noise-scale", ["--samples", "1"], 2, "--samples"),
    *[(c, ["--batch-size", "0"], 2, "--batch-size") for c in ("train", "compare", "noise-scale")],
    *[(c, ["--batch-size", "513"], 2, "larger than the training set (512 images)")
      for c in ("train", "compare", "noise-scale")],
    *[(c, ["--train-subset", "0"], 2, "--train-subset") for c in COMMANDS],
    *[(c, ["--train-subset", "513"], 2, "--train-subset must be between 1 and 512")
      for c in COMMANDS],
    ("compare", ["--rules", "batch", "--lr-epoch", "-1"], 2, "--lr-epoch was given, but"),
    # Several refusals at once: the first in the order they have always been checked.
    ("train", ["--engine", "torch", "--data-mode", "stream", "--step-mode", "graph"], 2,
     "--data-mode stream cannot run --step-mode graph"),
    ("train", ["--rule", "minibatch"], 2, "--rule"),
    ("compare", ["--rules", "batch,minibatch"], 2, "unknown rule 'minibatch'"),
    ("profile", ["--rule", "minibatch"], 2, "--rule"),
    *[(c, ["--engine", "fast"], 2, "--engine") for c in COMMANDS],
    *[(c, ["--dataset", "cifar10"], 2, "--dataset") for c in COMMANDS],
]  # fmt: skip


@pytest.mark.parametrize(("command", "args", "code", "phrase"), OPTIONS)
def test_a_bad_option_is_refused(tiny_root, tmp_path, command, args, code, phrase):
    if command == "compare" and "--batch-size" in args:
        args = [*args, "--rules", "batch"]
    result = run(command, tiny_root, tmp_path / "out", *args)
    assert_refused(result, code, phrase, tmp_path / "out")


@pytest.mark.parametrize("command", COMMANDS)
def test_cuda_without_a_gpu_is_refused(tiny_root, tmp_path, monkeypatch, command):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = run(command, tiny_root, tmp_path / "out", "--device", "cuda")
    assert_refused(result, 1, "no CUDA GPU", tmp_path / "out")


@pytest.mark.parametrize(("command", "option"), [
    (command, option) for command in COMMANDS for option, _ in OUTPUTS[command]
])  # fmt: skip
@pytest.mark.parametrize("problem", ["missing", "not writable"])
def test_an_output_that_cannot_be_written_is_refused_before_training(
    tiny_root, tmp_path, monkeypatch, command, option, problem
):
    folder = tmp_path / ("missing" if problem == "missing" else "read-only")
    if problem == "not writable":  # tests run as root here, so chmod would not stop it
        folder.mkdir()
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: Path(p) != folder and real_access(p, mode)
        )
    target = folder / dict(OUTPUTS[command])[option]
    result = run(command, tiny_root, tmp_path / "out", option, target)
    phrase = "does not exist" if problem == "missing" else "is not writable"
    assert_refused(result, 2, f"{option} {target}", tmp_path / "out")
    assert phrase in result.stderr and "epoch 1" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_where_no_file_can_be_made_is_refused_before_training(
    tiny_root, tmp_path, command
):
    """/proc passes the permission checks (as root) but takes no new file: only making
    one there tells, and that is done before training, not after it."""
    option, name = OUTPUTS[command][0]
    result = run(command, tiny_root, tmp_path / "out", option, Path("/proc") / name)
    assert_refused(
        result, 2, f"{option} /proc/{name}: cannot create a file in /proc", tmp_path / "out"
    )
    assert "epoch 1" not in result.output


def _truncate(raw):
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])


def _wrong_magic(raw):
    path = raw / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + path.read_bytes()[4:])


def _not_idx(raw):
    (raw / "t10k-images-idx3-ubyte").write_text("<html>a captive portal's login page</html>")


def _counts_disagree(raw):
    write_idx(raw / "train-labels-idx1-ubyte", torch.zeros(100, dtype=torch.uint8))


DATA = {
    "directory missing, no download": (None, "could not be downloaded"),
    "one file missing": (lambda raw: (raw / "t10k-labels-idx1-ubyte").unlink(),
                         "t10k-labels-idx1-ubyte is missing from"),
    "truncated": (_truncate, "is truncated"),
    "wrong magic number": (_wrong_magic, "train-labels-idx1-ubyte"),
    "not IDX at all": (_not_idx, "is not an MNIST image file"),
    "counts disagree": (_counts_disagree, "512 images but 100 labels"),
}  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("problem", list(DATA))
def test_bad_data_is_reported_before_training(tmp_path, offline, command, problem):
    damage, phrase = DATA[problem]
    root = tmp_path / "data"
    if damage is not None:
        damage(write_dataset(root))
    result = run(command, root, tmp_path / "out")
    assert_refused(result, 1, phrase, tmp_path / "out")
    assert "epoch 1" not in result.output


@pytest.mark.parametrize(("command", "args", "option"), [
    ("train", ["--epochs", "0"], "--epochs"),
    ("compare", ["--batch-size", "0"], "--batch-size"),
    ("profile", ["--steps", "0"], "--steps"),
    ("train", ["--data-dir", __file__], "--data-dir"),
    ("sweep", ["--json", "/tmp"], "--json"),
])  # fmt: skip
def test_typers_own_errors_read_as_every_other_error(command, args, option):
    """What click checks itself (ranges, file or directory) is said the same way: one
    paragraph after `error:`, naming the option, exit 2, no usage block."""
    result = invoke(command, *args)
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith(f"error: Invalid value for '{option}'"), message
    assert "Usage:" not in message and len(message.splitlines()) == 1
    assert message.endswith(f"Try 'mnist-rules {command} --help' for the options.")
