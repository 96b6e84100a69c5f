"""Atomic writes: all or nothing, no temporary files left, ordinary permissions."""

import os
import stat

import pytest

from mnist_rules.atomic import atomic_path, write_json


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_new_files_get_the_mode_open_would_give_not_mkstemps_0600(tmp_path):
    old_umask = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "r.json") == 0o644


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("{}")
    target.chmod(0o640)
    write_json(target, {"a": 1})
    assert mode(target) == 0o640 and target.read_text().startswith("{")
