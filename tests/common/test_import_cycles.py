"""No module of either service imports, at load time, a module that imports it back, however
indirectly: a loop (case_log/service and breaches/enforcement once imported each other) makes
the order of imports matter and the layers meaningless. A function-level import is a deliberate
late binding and is not counted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from diversion_common.migrations import REPO_ROOT

SERVICES = {"referral_api": REPO_ROOT / "services/referral_api/referral_api",
            "provider_gateway": REPO_ROOT / "services/provider_gateway/provider_gateway",
            "diversion_common": REPO_ROOT / "services/common/diversion_common"}


def _module_name(package: Path, path: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module's load-time imports of the same package's modules (``from p import m``: m, if a module)."""
    modules = {_module_name(package, path): path for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
                imported |= submodules or {node.module}
                if submodules != {f"{node.module}.{alias.name}" for alias in node.names}:
                    imported.add(node.module)  # a name the package itself defines
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] = imported - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_a_loop_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_module_imports_itself_back(service):
    assert cycles(import_graph(SERVICES[service])) == []
