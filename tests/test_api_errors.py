"""Bad arguments to the Python API raise the UserError the command line prints, word for
word: the same message after `error: ` (where typer refused the value while parsing,
the command line adds only "Try 'mnist-rules train --help' for the options.")."""

from pathlib import Path

import pytest

import mnist_rules
from cli_runner import invoke
from mnist_rules.errors import UsageError

README = str(Path(__file__).resolve().parents[1] / "README.md")

# (command, command-line arguments, the same as keyword arguments)
CASES = [
    ("train", ["--epochs", "0"], {"epochs": 0}),
    ("train", ["--epochs", "2.5"], {"epochs": "2.5"}),
    ("train", ["--rule", "minibatch"], {"rule": "minibatch"}),
    ("train", ["--engine", "fast"], {"engine": "fast"}),
    ("train", ["--lr", "abc"], {"lr": "abc"}),
    ("train", ["--lr", "-1"], {"lr": -1}),
    ("train", ["--lr", "nan"], {"lr": float("nan")}),
    ("train", ["--require-acc", "101"], {"require_acc": 101}),
    ("train", ["--stream-buffers", "1"], {"stream_buffers": 1}),
    ("train", ["--rule", "sample", "--batch-size", "10"], {"rule": "sample", "batch_size": 10}),
    ("train", ["--batch-size", "513"], {"batch_size": 513}),
    ("train", ["--train-subset", "100000"], {"train_subset": 100000}),
    ("train", ["--checkpoint-every", "5"], {"checkpoint_every": 5}),
    ("train", ["--data-dir", README], {"data_dir": README}),
    ("train", ["--json", "/tmp"], {"json_out": "/tmp"}),
    ("train", ["--json", "/no/such/dir/r.json"], {"json_out": "/no/such/dir/r.json"}),
    ("train", ["--resume", "/no/such/c.pt"], {"resume": "/no/such/c.pt"}),
    ("train", ["--step-mode", "kernel", "--engine", "torch"],
     {"step_mode": "kernel", "engine": "torch"}),
    ("compare", ["--target-acc", "101"], {"target_acc": 101}),
    ("compare", ["--rules", "batch,minibatch"], {"rules": "batch,minibatch"}),
    ("compare", ["--rules", "batch,batch"], {"rules": ["batch", "batch"]}),
    ("compare", ["--lr-sample", "0.1", "--rules", "batch"], {"lr_sample": 0.1, "rules": "batch"}),
    ("compare", ["--engine", "tuned", "--engines", "torch,tuned"],
     {"engine": "tuned", "engines": "torch,tuned"}),
    ("compare", ["--plot", "c.jpg"], {"plot": "c.jpg"}),
    ("sweep", ["--sizes", "1,ten"], {"sizes": "1,ten"}),
    ("sweep", ["--sizes", "1,1000"], {"sizes": [1, 1000]}),
    ("sweep", ["--epochs", "0"], {"epochs": 0}),
    ("profile", ["--warmup", "-1"], {"warmup": -1}),
    ("profile", ["--trace-steps", "5"], {"trace_steps": 5}),
    ("profile", ["--transfer", "sideways"], {"transfer": "sideways"}),
    ("profile", ["--compare-transfers"], {"compare_transfers": True}),
]  # fmt: skip


@pytest.mark.parametrize(("command", "args", "kwargs"), CASES)
def test_the_api_raises_the_message_the_command_prints(tiny_root, command, args, kwargs):
    common = {"data_dir": tiny_root, "device": "cpu", "quiet": True}
    with pytest.raises(mnist_rules.UserError) as raised:
        getattr(mnist_rules, command)(**{**common, **kwargs})
    message = str(raised.value)

    result = invoke(command, "--data-dir", tiny_root, "--device", "cpu", *args)
    assert result.exit_code == raised.value.exit_code, result.output
    printed = result.stderr.strip()
    typers = f"error: {message.rstrip('.')}. Try 'mnist-rules {command} --help' for the options."
    assert printed in (f"error: {message}", typers)


def test_a_wrong_type_is_refused_as_a_usage_error():
    with pytest.raises(UsageError, match="Invalid value for '--epochs': Input should be a valid"):
        mnist_rules.train(epochs=[1])
    with pytest.raises(UsageError, match="'--quiet': Input should be a valid boolean"):
        mnist_rules.train(quiet="yes")


def test_an_unknown_keyword_is_pythons_own_type_error():
    with pytest.raises(TypeError, match="batchsize"):
        mnist_rules.train(batchsize=10)
