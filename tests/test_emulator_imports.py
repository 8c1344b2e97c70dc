"""The emulator's promises about its imports: no circles, and the standard library only.

Read from the source with ``ast``, so every import counts: those under
``if TYPE_CHECKING:`` and those inside functions too, not only what runs at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import django_workos_pipes

PACKAGE = "django_workos_pipes"
ROOT = Path(django_workos_pipes.__file__).resolve().parent
EMULATOR = f"{PACKAGE}.emulator"


def module_path(name: str) -> Path | None:
    """The file of a module of the package (``None`` for anything else)."""
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        return None
    parts = name.split(".")[1:]
    package = ROOT.joinpath(*parts, "__init__.py")
    if package.exists():
        return package
    module = ROOT.joinpath(*parts).with_suffix(".py")
    return module if module.exists() else None


def imported_names(name: str) -> Iterator[str]:
    """Every module ``name``'s source imports, relative imports resolved."""
    path = module_path(name)
    assert path is not None, name
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            for alias in node.names:
                # ``from . import persistence`` imports a module; ``from .app import X`` a name.
                submodule = f"{origin}.{alias.name}"
                yield submodule if module_path(submodule) else origin


def import_graph(start: str) -> dict[str, set[str]]:
    """The package's modules reachable from ``start``, each with the ones it imports."""
    graph: dict[str, set[str]] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        graph[name] = {other for other in imported_names(name) if module_path(other)}
        todo.extend(graph[name])
    return graph


def emulator_modules() -> list[str]:
    folder = ROOT / "emulator"
    return [EMULATOR] + [f"{EMULATOR}.{path.stem}" for path in sorted(folder.glob("[!_]*.py"))]


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path ``start -> ... -> start`` in ``graph``, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for other in graph.get(name, ()):
            if other == start:
                return [*path, start]
            if other not in seen:
                seen.add(other)
                stack.append((other, [*path, other]))
    return None


def test_no_emulator_module_imports_a_module_that_imports_it_back() -> None:
    graph: dict[str, set[str]] = {}
    for name in emulator_modules():
        graph.update(import_graph(name))
    cycles = [cycle_through(graph, name) for name in emulator_modules()]
    assert [" -> ".join(cycle) for cycle in cycles if cycle] == []


def test_the_emulator_imports_the_standard_library_only() -> None:
    """Its modules, and the package modules they use, import nothing else."""
    graph: dict[str, set[str]] = {}
    for name in emulator_modules():
        graph.update(import_graph(name))
    outside = {
        f"{name}: {other}"
        for name in graph
        for other in imported_names(name)
        if other.split(".")[0] not in sys.stdlib_module_names
        and other.split(".")[0] not in ("__future__", PACKAGE)
    }
    assert sorted(outside) == []


def test_importing_the_emulator_loads_no_third_party_module() -> None:
    probe = (
        "import sys; before = set(sys.modules); "
        "import django_workos_pipes.emulator, django_workos_pipes.emulator.cli; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    names = ast.literal_eval(loaded)
    assert [n for n in names if n not in sys.stdlib_module_names and n != PACKAGE] == []
