"""The covertype package as its source says it is: modules, what they import, and the graph between its parts.

Everything comes from an ``ast`` scan of ``src/covertype`` (nothing is imported or run), so the drawing
(:mod:`architecture_diagram`) and the architecture rules (``tests/architecture/test_architecture.py``) stay
true as the code changes. A *part* is a top-level package or module of covertype (``store``, ``settings``,
...); part A imports part B when any module of A imports anything from B, at module level or inside a
function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PACKAGE = "covertype"
DEFAULT_SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE


class ImportCycle(Exception):
    """The parts import each other in a circle, so they have no layers."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("import cycle: " + " -> ".join(cycle))
        self.cycle = cycle


@dataclass(frozen=True)
class Import:
    """One imported module: ``from covertype.store import reads`` imports ``covertype.store.reads``."""

    importer: str
    target: str
    names: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Reference:
    """A dotted name the code uses, resolved through its imports (``sa.select`` -> ``sqlalchemy.select``)."""

    name: str
    line: int
    called: bool


@dataclass(frozen=True)
class Module:
    """One source file of the package, with its dotted name and parsed tree."""

    name: str
    path: Path
    is_package: bool

    @cached_property
    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))

    @property
    def part(self) -> str | None:
        """The top-level package or module this module belongs to (None for covertype's own __init__)."""
        return part_of(self.name)

    def _resolve(self, node: ast.ImportFrom) -> str:
        """The absolute module a (possibly relative) ``from ... import`` names."""
        if not node.level:
            return node.module or ""
        package = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        base = package[: len(package) - node.level + 1]
        return ".".join([*base, node.module] if node.module else base)

    def imports(self, known: frozenset[str]) -> Iterator[Import]:
        """Every import statement's modules; ``from P import m`` names module P.m when that module exists."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(self.name, alias.name, (), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                origin = self._resolve(node)
                plain = tuple(alias.name for alias in node.names if f"{origin}.{alias.name}" not in known)
                if plain:
                    yield Import(self.name, origin, plain, node.lineno)
                for alias in node.names:
                    if f"{origin}.{alias.name}" in known:
                        yield Import(self.name, f"{origin}.{alias.name}", (), node.lineno)

    def bindings(self) -> list[tuple[str, str, int]]:
        """(local name, the dotted name it was imported as, line): ``pd`` is ``pandas``, ``select`` ..."""
        bound = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    bound.append((local, alias.name if alias.asname else local, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                origin = self._resolve(node)
                bound.extend(
                    (alias.asname or alias.name, f"{origin}.{alias.name}", node.lineno)
                    for alias in node.names
                )
        return bound

    def references(self) -> Iterator[Reference]:
        """Every imported name and use of one (``x``, ``x.y.z``), fully qualified, and if it is called."""
        bindings = self.bindings()
        yield from (Reference(qualified, line, called=False) for _, qualified, line in bindings)
        bound = {local: qualified for local, qualified, _ in bindings}
        called = {id(node.func) for node in ast.walk(self.tree) if isinstance(node, ast.Call)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute | ast.Name) and (dotted := _dotted(node)):
                head, _, rest = dotted.partition(".")
                if head in bound:
                    qualified = f"{bound[head]}.{rest}" if rest else bound[head]
                    yield Reference(qualified, node.lineno, called=id(node) in called)

    def method_calls(self) -> Iterator[tuple[str, int]]:
        """Every ``anything.method(...)`` call as (method, line): what the code does to objects it holds."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                yield node.func.attr, node.lineno


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def part_of(module: str) -> str | None:
    """``covertype.store.tables`` -> ``store``; None for covertype itself and for other packages."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[0] == PACKAGE else None


def modules(source: Path = DEFAULT_SOURCE) -> list[Module]:
    """Every module under `source` (the ``covertype`` package directory), sorted by name."""
    found = []
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source).with_suffix("").parts
        is_package = relative[-1] == "__init__"
        dotted = (PACKAGE, *relative[:-1]) if is_package else (PACKAGE, *relative)
        found.append(Module(".".join(dotted), path, is_package))
    return found


def imports(source: Path = DEFAULT_SOURCE) -> list[Import]:
    """Every import of every module under `source`."""
    scanned = modules(source)
    known = frozenset(module.name for module in scanned)
    return [found for module in scanned for found in module.imports(known)]


def package_graph(source: Path = DEFAULT_SOURCE) -> dict[str, set[str]]:
    """Part -> the other parts it imports from; every part is a key, also those that import nothing."""
    graph: dict[str, set[str]] = {module.part: set() for module in modules(source) if module.part}
    for found in imports(source):
        importer, target = part_of(found.importer), part_of(found.target)
        if importer in graph and target in graph and importer != target:
            graph[importer].add(target)
    return graph


def module_graph(source: Path = DEFAULT_SOURCE) -> dict[str, set[str]]:
    """Module -> the other covertype modules it imports (a package is its ``__init__``), at module level or
    inside a function: every module is a key, also those that import nothing."""
    graph: dict[str, set[str]] = {module.name: set() for module in modules(source)}
    for found in imports(source):
        if found.target in graph and found.target != found.importer:
            graph[found.importer].add(found.target)
    return graph


def describe(graph: dict[str, set[str]]) -> str:
    """The graph as sorted text, one ``part -> imported, parts`` line per part (stored in the picture)."""
    return "\n".join(f"{part} -> {', '.join(sorted(graph[part]))}" for part in sorted(graph))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a closed path (``[a, b, a]``), or None when the graph has none."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Part -> its layer: the length of its longest import path down to a part importing nothing (layer 0).

    Every import therefore goes to a lower layer. Raises :class:`ImportCycle` when there is no such order.
    """
    if cycle := find_cycle(graph):
        raise ImportCycle(cycle)
    depth: dict[str, int] = {}

    def layer(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((layer(target) for target in graph[node]), default=-1)
        return depth[node]

    return {node: layer(node) for node in sorted(graph)}
