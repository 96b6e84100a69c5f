"""Rules as data: a fourth rule, defined here and nowhere else (ten samples per update,
its own name, learning rate and colour), is taken by train, compare, profile, the
plots and the command line with no other edit."""

import json

import pytest
from typer.testing import CliRunner

import mnist_rules
from mnist_rules.config.rules import RULES, Rule

TEN = Rule(
    name="ten",
    samples=10,
    default_lr=0.05,
    shuffle_by_default=False,
    summary="one update per ten images",
    help="one per ten images",
    colour="tab:purple",
    profile_steps=20,
    profile_warmup=2,
)


@pytest.fixture
def ten(monkeypatch):
    monkeypatch.setitem(RULES, TEN.name, TEN)
    return TEN


def test_train_takes_a_fourth_rule_with_its_own_size_and_rate(ten, tiny_root):
    result = mnist_rules.train(rule="ten", epochs=2, data_dir=tiny_root, quiet=True)
    assert (result.rule, result.batch_size, result.lr) == ("ten", 10, 0.05)
    assert [e.updates for e in result.epochs] == [52, 52]  # 512 images, ten at a time
    assert not result.shuffle  # the rule's own default
    assert str(result.parts()[0][0]).startswith("ten rule (one update per ten images): lr 0.05")


def test_compare_races_it_and_the_plots_colour_it(ten, tiny_root, tmp_path):
    plot = tmp_path / "compare.png"
    result = mnist_rules.compare(
        rules="batch,ten", epochs=2, data_dir=tiny_root, plot=plot, quiet=True, update_losses=True
    )
    assert [run.rule for run in result.runs] == ["batch", "ten"]
    assert result.run("ten").lr == 0.05 and result.run("ten").batch_size == 10
    assert set(result.reached()) == {"batch", "ten"}
    assert plot.stat().st_size > 0
    colours = {line.get_color() for ax in result.plot().axes for line in ax.get_lines()}
    assert "tab:purple" in colours


def test_profile_takes_its_window_from_the_rule(ten, tiny_root):
    result = mnist_rules.profile(rule="ten", engine="tuned", data_dir=tiny_root, quiet=True)
    assert (result.rule, result.steps, result.warmup) == ("ten", 20, 2)
    assert result.updates_per_epoch == 52


def test_the_command_line_lists_and_runs_it(ten, tiny_root, tmp_path):
    from mnist_rules.cli.app import make_app  # the app as the rules are now

    app, out = make_app(), tmp_path / "run.json"
    listed = CliRunner().invoke(app, ["train", "--help"])
    assert "<epoch|batch|sample|ten>" in listed.output
    args = ["train", "--rule", "ten", "--epochs", "1", "--data-dir", tiny_root, "--json", out]
    ran = CliRunner().invoke(app, [str(a) for a in args])
    assert ran.exit_code == 0, ran.output
    assert json.loads(out.read_text())["batch_size"] == 10


def test_without_it_the_rule_is_refused_as_any_unknown_choice(tiny_root):
    with pytest.raises(mnist_rules.UserError, match="'ten' is not one of 'epoch', 'batch'"):
        mnist_rules.train(rule="ten", data_dir=tiny_root, quiet=True)
