"""Running the CLI in-process for tests (typer's CliRunner), and checking its failures."""

from typer.testing import CliRunner

from mnist_rules.cli import app

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def assert_clean_failure(result, code, *phrases):
    """The exit code, no traceback, and each phrase in the one-paragraph message."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
