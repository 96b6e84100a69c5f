"""The package's shape: its packages import one another in one direction only (no two
import each other, no module imports one that imports it back), no module is too long
to read in one sitting, and each folder says what lives in it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mnist_rules"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path) -> set[str]:
    """The package's modules that `path` imports, at the top or inside a function
    (imports under `if TYPE_CHECKING:` run only for type checkers, and do not count)."""
    found, todo = set(), list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from pkg import module` imports the module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        todo.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in MODULES}


def a_cycle(graph: dict[str, set[str]]) -> str | None:
    """One chain of imports that leads back to where it started, or None."""
    for start in sorted(graph):
        todo, seen = [(start, [start])], set()
        while todo:
            name, path = todo.pop()
            for dep in sorted(graph[name]):
                if dep == start:
                    return " -> ".join([*path, start])
                if dep not in seen:
                    seen.add(dep)
                    todo.append((dep, [*path, dep]))
    return None


# The packages, lowest first: each may import its own modules and those of the packages
# before it, never one after it. The root's modules (errors, atomic, device, model, world,
# cache_dir) come first; __main__ last. Why this order: docs/development.md, "Layout".
ORDER = (
    "", "data", "engines", "config", "training", "grid", "theory", "report", "api", "cli",
    "__main__",
)  # fmt: skip


def package(module: str) -> str:
    """The package a module belongs to ("" for the root's own modules)."""
    parts = module.split(".")
    if len(parts) == 2 and MODULES[module].name != "__init__.py":
        return "__main__" if parts[1] == "__main__" else ""
    return parts[1] if len(parts) > 1 else ""


def package_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Package -> the packages its modules import (function-level imports count)."""
    graph: dict[str, set[str]] = {package(name): set() for name in modules}
    for name, path in modules.items():
        graph[package(name)] |= {package(dep) for dep in imported(path)} - {package(name)}
    return graph


def test_no_two_packages_import_each_other():
    assert a_cycle(package_graph(MODULES)) is None


def test_packages_import_only_those_below_them():
    upward = [
        f"{name} imports {dep}"
        for name, path in MODULES.items()
        for dep in imported(path)
        if ORDER.index(package(dep)) > ORDER.index(package(name))
    ]
    assert upward == []
    assert set(package_graph(MODULES)) <= set(ORDER)  # a new package takes its place


def test_a_pair_of_packages_that_import_each_other_is_found(monkeypatch):
    """One function-level import from a low package to a high one is a cycle: found."""
    fake = dict(MODULES)
    fake["mnist_rules.data.fake"] = Path(__file__).with_name("layout_fixture.txt")
    monkeypatch.setitem(MODULES, "mnist_rules.data.fake", fake["mnist_rules.data.fake"])
    cycle = a_cycle(package_graph(fake))
    assert cycle is not None and "data" in cycle and "cli" in cycle


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: imported(path) - {name} for name, path in MODULES.items()}
    assert a_cycle(graph) is None


def test_the_cycle_finder_finds_a_long_cycle():
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == "a -> b -> c -> a"
    assert a_cycle({"a": {"b"}, "b": set()}) is None


def test_the_cycle_finder_finds_a_function_level_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mnist_rules.device import describe\n"
        "def f():\n    from mnist_rules.errors import UserError\n"
    )
    assert imported(module) == {"mnist_rules.errors"}


def test_no_module_is_longer_than_about_four_hundred_lines():
    lengths = {name: len(p.read_text().splitlines()) for name, p in MODULES.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_every_folder_says_what_lives_in_it():
    for folder in [PACKAGE, *(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists())]:
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc, f"{folder.name}/__init__.py has no docstring"
