"""The package's shape, read from its source: who may import whom.

Every import counts, at module level, under ``TYPE_CHECKING`` or inside a function,
since each one is a dependency a maintainer has to keep in mind.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "django_workos_pipes"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imports(name: str) -> Iterator[str]:
    """Every module ``name`` imports (absolute names, submodules resolved)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            submodules = [module for module in submodules if module in MODULES]
            # ``from . import wire`` depends on the submodule, not on the package's body.
            if len(submodules) < len(node.names):
                yield base
            yield from submodules


def internal_graph() -> dict[str, set[str]]:
    """Edges between the package's modules. The package root is left out as a source: it
    is the public facade, re-exporting ``pipes`` lazily, on first attribute access."""
    return {
        name: {target for target in imports(name) if target in MODULES and target != name}
        for name in MODULES
        if name != PACKAGE
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert find_cycle(internal_graph()) is None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_only_the_service_talks_to_the_http_client() -> None:
    importers = {
        name for name, targets in internal_graph().items() if f"{PACKAGE}.workos.client" in targets
    }
    assert importers == {f"{PACKAGE}.service"}


def test_nothing_but_the_pytest_plugin_imports_testing() -> None:
    for name, targets in internal_graph().items():
        if name.startswith(f"{PACKAGE}.testing"):
            continue
        assert not any(t.startswith(f"{PACKAGE}.testing") for t in targets), name


@pytest.mark.parametrize(
    "name",
    [
        f"{PACKAGE}.wire",
        *(name for name in MODULES if name.startswith(f"{PACKAGE}.emulator")),
    ],
)
def test_wire_and_emulator_use_the_standard_library_only(name: str) -> None:
    allowed = {f"{PACKAGE}.wire", f"{PACKAGE}.masking", f"{PACKAGE}.signatures"}
    for target in imports(name):
        top = target.partition(".")[0]
        if top == PACKAGE:
            assert target in allowed or target.startswith(f"{PACKAGE}.emulator"), target
        else:
            assert top in sys.stdlib_module_names or top == "__future__", target


def loaded_by(*modules: str) -> set[str]:
    """The top-level packages a fresh interpreter loads to import ``modules``."""
    probe = (
        "import importlib, sys; before = set(sys.modules); "
        f"[importlib.import_module(m) for m in {list(modules)!r}]; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(ast.literal_eval(loaded))


def test_importing_the_emulator_loads_no_third_party_module() -> None:
    names = loaded_by(f"{PACKAGE}.emulator", f"{PACKAGE}.emulator.cli")
    assert {n for n in names if n not in sys.stdlib_module_names} <= {PACKAGE}


def test_the_service_imports_no_http_library_until_it_calls_workos() -> None:
    """requests and urllib3 cost tens of milliseconds of every process start."""
    names = loaded_by(PACKAGE, f"{PACKAGE}.service", f"{PACKAGE}.workos.client")
    assert not names & {"requests", "urllib3"}
