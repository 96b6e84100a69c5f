"""Without platformdirs (the GPU machine has none), the tool caches under the home
directory with one warning, and everything that looks for numba still works: the
tests collect (tests/optional_packages.py asks numba_sample_steps.available() at
collection) and per-sample runs take the compiled loop."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mnist_rules import cache_dir
from mnist_rules.data.mnist import resolve_data_dir
from mnist_rules.engines.tuned import numba_sample_steps
from mnist_rules.errors import UsageError

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def no_platformdirs(monkeypatch):
    """`import platformdirs` raises ImportError, as where it is not installed."""
    monkeypatch.setitem(sys.modules, "platformdirs", None)
    cache_dir._warn_without_platformdirs.cache_clear()
    yield
    cache_dir._warn_without_platformdirs.cache_clear()


def test_without_platformdirs_the_cache_is_under_the_home_directory_with_one_warning(
    no_platformdirs, monkeypatch, tmp_path
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache_dir.user_cache_dir() == tmp_path / "xdg" / "mnist-rules"
        assert resolve_data_dir(None) == tmp_path / "xdg" / "mnist-rules"
    assert len(caught) == 1 and "platformdirs is not installed" in str(caught[0].message)
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.warns(RuntimeWarning, match="platformdirs"):  # a new place: said once more
        assert cache_dir.user_cache_dir() == tmp_path / "home" / ".cache" / "mnist-rules"


def test_without_a_home_directory_there_is_no_cache_and_the_data_dir_must_be_given(
    no_platformdirs, monkeypatch
):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def homeless():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(homeless))
    with pytest.warns(RuntimeWarning, match="no home directory"):
        assert cache_dir.user_cache_dir() is None
    with pytest.raises(UsageError, match="Pass --data-dir"):
        resolve_data_dir(None)


def test_numba_is_found_without_platformdirs(no_platformdirs, monkeypatch, tmp_path):
    """What test collection asks (tests/optional_packages.py, bench/conftest.py)."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    numba_sample_steps._numba.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="platformdirs"):
            found = numba_sample_steps.available()
        assert found is None or "numba is not installed" in found
        assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mnist-rules" / "numba")
    finally:
        numba_sample_steps._numba.cache_clear()


@pytest.mark.skipif(numba_sample_steps.available() is not None, reason="numba does not import")
def test_a_per_sample_run_without_platformdirs_takes_the_compiled_loop(tiny_root, tmp_path):
    """The whole command in a fresh process where platformdirs cannot be imported."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['platformdirs'] = None\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=os.pathsep.join([str(blocker), str(SRC)]))
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "mnist_rules", "train", "--rule", "sample", "--epochs", "1",
         "--data-dir", str(tiny_root), "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["step_mode"] == "kernel"
    assert done.stderr.count("platformdirs is not installed") == 1, done.stderr
    assert (tmp_path / "home" / ".cache" / "mnist-rules" / "numba").is_dir()


def test_where_numba_may_write_no_cache_it_compiles_each_run(monkeypatch):
    """An unwritable cache directory and home leave numba no cache locator, which it
    raises at decoration: the loop is compiled uncached instead of not at all."""
    import types

    asked = []

    def njit(**options):
        asked.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function '_steps': no locator available")
        return lambda fn: fn

    monkeypatch.setattr(numba_sample_steps, "_numba", lambda: types.SimpleNamespace(njit=njit))
    numba_sample_steps.compiled_steps.cache_clear()
    try:
        assert numba_sample_steps.compiled_steps() is numba_sample_steps._steps
        assert asked == [True, False]
    finally:
        numba_sample_steps.compiled_steps.cache_clear()


def test_without_numba_nothing_asks_for_the_cache_directory(no_platformdirs, monkeypatch):
    """No spurious platformdirs warning where numba is missing anyway."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "numba" else real_find_spec(name, *a),
    )
    numba_sample_steps._numba.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert "numba is not installed" in numba_sample_steps.available()
        assert caught == []
    finally:
        numba_sample_steps._numba.cache_clear()
