"""One definition of every option: the API's signatures, the command line's options and
TrainConfig take their defaults and ranges from config/options.py, and docs/api.md lists
every public name and every parameter with that default. The README shows the API."""

import dataclasses
import inspect
import re
from enum import Enum
from pathlib import Path

import pytest
import typer

import mnist_rules
from mnist_rules.cli import app
from mnist_rules.config.options import COMMANDS, TRAIN
from mnist_rules.config.train_config import TrainConfig

DOCS = Path(__file__).resolve().parents[1] / "docs"
API_DOC = (DOCS / "api.md").read_text()
README = (DOCS.parent / "README.md").read_text()


def shown(default) -> str:
    """A default as docs/api.md writes it."""
    if isinstance(default, Enum):
        return f'`"{default.value}"`'
    return f'`"{default}"`' if isinstance(default, str) else f"`{default!r}`"


def function(command: str) -> str:
    """The API function of a command: noise-scale's is noise_scale."""
    return command.replace("-", "_")


def section(heading: str) -> str:
    """The part of docs/api.md under the heading `heading`, up to the next heading."""
    start = re.search(rf"^#+ {re.escape(heading)}$", API_DOC, re.MULTILINE).start()
    end = API_DOC.find("\n#", start + 1)
    return API_DOC[start : end if end != -1 else None]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_api_signature_takes_the_specs_options_and_defaults(command):
    options = COMMANDS[command]
    params = inspect.signature(getattr(mnist_rules, function(command))).parameters
    assert list(params) == list(options.specs)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert {n: p.default for n, p in params.items()} == {
        n: spec.default for n, spec in options.specs.items()
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_the_command_line_takes_the_specs_defaults_ranges_and_flags(command):
    cli = typer.main.get_command(app).commands[command]
    options = COMMANDS[command]
    assert [p.name for p in cli.params] == list(options.specs)
    for param in cli.params:
        spec = options[param.name]
        assert (param.default, param.min, param.max) == (spec.default, spec.min, spec.max)
        flags = param.opts + param.secondary_opts
        assert spec.flag in flags or spec.flag == "/".join(flags), (param.name, flags)


def test_train_config_defaults_are_the_train_commands():
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    shared = set(fields) & set(TRAIN.specs)
    assert len(shared) >= 14
    assert {name: fields[name] for name in shared} == {name: TRAIN[name].default for name in shared}


def test_api_doc_names_every_public_name():
    missing = [name for name in mnist_rules.__all__ if f"`{name}" not in API_DOC]
    assert missing == []


@pytest.mark.parametrize("command", COMMANDS)
def test_api_doc_lists_every_parameter_with_its_default_and_flag(command):
    text = section(f"`{function(command)}`")
    for name, spec in COMMANDS[command].specs.items():
        row = f"| `{name}` | {shown(spec.default)} | `{spec.flag}` |"
        assert row in text, f"docs/api.md, ### `{function(command)}`: no row starting {row}"
    assert text.count("\n| `") == len(COMMANDS[command].specs)  # and no stale ones


def test_api_doc_lists_train_configs_fields_and_defaults():
    text = section("Underneath: `TrainConfig` and the loop")
    for field in dataclasses.fields(TrainConfig):
        assert f"| `{field.name}` | {shown(field.default)} |" in text, field.name


def test_readme_quick_start_shows_the_python_lines_and_links_the_tutorial():
    assert "import mnist_rules" in README and "mnist_rules.train(" in README
    assert "docs/tutorial.ipynb" in README and "docs/api.md" in README
