"""The commands' start-up (api/startup.py): heavy imports without garbage collection,
frozen only in the command line's own process."""

import gc

from mnist_rules.api import startup


def test_heavy_imports_pause_collection_and_leave_it_as_it_was(monkeypatch):
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    assert gc.isenabled()
    with startup.heavy_imports():
        assert not gc.isenabled()
    assert gc.isenabled() and frozen == []  # in a user's process: nothing frozen
    gc.disable()
    try:
        with startup.heavy_imports():
            pass
        assert not gc.isenabled()  # disabled before, disabled after
    finally:
        gc.enable()


def test_the_command_line_freezes_what_its_imports_made(monkeypatch):
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(startup, "FREEZE_AFTER_IMPORTS", True)
    with startup.heavy_imports():
        pass
    assert frozen == [True] and gc.isenabled()
