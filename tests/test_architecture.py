"""The shape of the package, read from the source: no import cycle between domains,
``trialdm`` never imports ``tasks``, and no file grows past one topic's size.

The graph is built with ``ast`` from every ``import`` and ``from … import`` in every
module, including those inside functions: a deferred import still ties two domains
together, it only hides the cycle from Python."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "trialdm"
MAX_LINES = 500


def module_name(path: Path, root: Path = ROOT) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def domain(module: str) -> str | None:
    """The domain of a ``trialdm`` module: its top-level subpackage or module; None
    for ``trialdm`` itself (the app factory composes every domain)."""
    parts = module.split(".")
    if parts[0] != "trialdm" or len(parts) < 2:
        return None
    return parts[1]


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Every module ``path`` imports (absolute names), with its line."""
    name, is_package = module_name(path, root)
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # ``from trialdm import audit`` names a domain in the imported name
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


def import_graph() -> dict[tuple[str, str], list[str]]:
    """(domain, imported domain) -> the places that import it."""
    edges: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = domain(module_name(path)[0])
        if source is None:
            continue
        for target, line in imported_modules(path):
            imported = domain(target)
            place = f"{path.relative_to(ROOT)}:{line}"
            if imported not in (None, source) and place not in edges[(source, imported)]:
                edges[(source, imported)].append(place)
    return edges


def strongly_connected(nodes: set[str], edges: set[tuple[str, str]]) -> list[set[str]]:
    """Tarjan's components with more than one member: every cycle lies in one."""
    successors: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in successors[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_between_domains():
    edges = import_graph()
    checked = set(edges)
    nodes = {d for edge in checked for d in edge}
    problems = []
    for component in strongly_connected(nodes, checked):
        lines = [
            f"  {a} -> {b}: {', '.join(edges[(a, b)][:3])}"
            for a, b in sorted(checked)
            if a in component and b in component
        ]
        problems.append(f"cycle among {sorted(component)}:\n" + "\n".join(lines))
    assert not problems, "\n".join(problems)


def test_trialdm_never_imports_tasks():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for target, line in imported_modules(path)
        if target == "tasks" or target.startswith("tasks.")
    ]
    assert found == []


def line_counts() -> dict[str, int]:
    return {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_file_over_one_topic_size():
    long = [f"{name}: {n} lines" for name, n in line_counts().items() if n > MAX_LINES]
    assert long == []
