"""Check the import structure: `python -m provenant.devtools.imports` (exit 1 on a problem).

Rules (the README's architecture): no import cycle between provenant's top-level packages;
only the entrypoints import the composition root `provenant.bootstrap`; the HTTP routers
`http.api` and `http.web` never import each other. Every import counts, also one inside
a function: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Entrypoints may build their collaborators from the composition root.
ENTRYPOINTS = ("provenant.cli", "provenant.airflow", "provenant.http", "provenant.runtime",
               "provenant.artifacts", "provenant.lineage.__init__", "provenant.bootstrap")
SIBLINGS = ("provenant.http.api", "provenant.http.web")


def modules(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg.__init__`` for package faces)."""
    return {".".join(("provenant", *path.relative_to(root).with_suffix("").parts)): path
            for path in sorted(root.rglob("*.py"))}


def imports_of(name: str, path: Path) -> Iterator[str]:
    """The provenant modules or packages one module imports, absolute."""
    package = name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("provenant"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("provenant"):
                yield base
                yield from (f"{base}.{a.name}" for a in node.names)


def _top(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def problems(root: Path = PACKAGE_ROOT) -> list[str]:
    """Every rule broken, one line each (empty when the structure holds)."""
    known = modules(root)
    found: list[str] = []
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target in imports_of(name, path):
            if target not in known and f"{target}.__init__" not in known:
                continue  # a name imported from a module, not a module itself
            if target == "provenant.bootstrap" and not _within(name, ENTRYPOINTS):
                found.append(f"{name} imports provenant.bootstrap (only entrypoints may)")
            for side, other in (SIBLINGS, SIBLINGS[::-1]):
                if _within(name, (side,)) and _within(target, (other,)):
                    found.append(f"{name} imports {target}: api and web are siblings")
            if _top(name) != _top(target):
                graph[_top(name)].add(_top(target))
    found += [f"import cycle between packages: {' -> '.join(cycle)}" for cycle in _cycles(graph)]
    return sorted(set(found))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example cycle per strongly connected component larger than one package."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component) + [sorted(component)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def main() -> int:
    """Print each problem; exit 1 when there is one."""
    found = problems()
    for line in found:
        print(line)
    print(f"{len(modules())} modules checked: "
          + ("the import structure holds" if not found else f"{len(found)} problem(s)"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
