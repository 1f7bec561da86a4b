"""The node's structure, as rules a change cannot quietly break.

One forward path: ``protocol`` at the bottom, ``analyzers`` on it, then the node's
storage and transport, its services, and on top the API, the UI, start-up and the
CLI. These tests read the product's source (``ast``, nothing is imported) and check
the rules the layout section of README.md states.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT

FOLDERS = {"node": "clearinghouse.node", "protocol": "clearinghouse.protocol"} | {
    "analyzers": "clearinghouse.analyzers"
}
LONGEST_FUNCTION = 80


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def _modules() -> dict[str, Module]:
    out = {}
    for folder, namespace in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's revisions are frozen history
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join((namespace, *parts))
            out[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    return out


MODULES = _modules()


def _type_only(tree: ast.Module) -> set[int]:
    """Line numbers of the imports under ``if TYPE_CHECKING:``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imports(module: Module, *, runtime_only: bool = False) -> Iterator[str]:
    """Every absolute module name ``module`` imports (``from a import b``: ``a.b`` when
    that is a module, else ``a``)."""
    skip = _type_only(module.tree) if runtime_only else set()
    for node in ast.walk(module.tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield full if full in MODULES else node.module


def _within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_product_modules_import_each_other_without_a_cycle() -> None:
    graph = {m: {i for i in _imports(MODULES[m]) if i in MODULES} for m in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_context_holds_data_and_services_sit_below_their_callers() -> None:
    above = (
        "clearinghouse.node.api",
        "clearinghouse.node.ui",
        "clearinghouse.node.app",
        "clearinghouse.node.startup",
        "clearinghouse.node.cli",
        "clearinghouse.node.localfed",
    )
    offenders = []
    for module in MODULES.values():
        if module.name == "clearinghouse.node.context":
            banned: tuple[str, ...] = (*above, "clearinghouse.node.services")
        elif _within(module.name, "clearinghouse.node.services", "clearinghouse.node.storage"):
            banned = above
        elif _within(module.name, "clearinghouse.protocol", "clearinghouse.analyzers"):
            banned = ("clearinghouse.node",)
        else:
            continue
        offenders += [f"{module.relative}: {i}" for i in _imports(module) if _within(i, *banned)]
    assert offenders == []


def test_only_the_api_dependencies_touch_storage_from_routes_and_pages() -> None:
    offenders = [
        f"{module.relative}: {i}"
        for module in MODULES.values()
        if _within(module.name, "clearinghouse.node.api", "clearinghouse.node.ui")
        and module.name != "clearinghouse.node.api.deps"
        for i in _imports(module)
        if _within(i, "clearinghouse.node.storage", "sqlalchemy", "sqlmodel")
    ]
    assert offenders == []


def test_all_outbound_http_lives_in_the_transport_package() -> None:
    offenders = [
        f"{module.relative}: {i}"
        for module in MODULES.values()
        if not _within(module.name, "clearinghouse.node.transport")
        for i in _imports(module, runtime_only=True)
        if _within(i, "httpx", "requests", "urllib.request", "http.client")
    ]
    assert offenders == []


def test_no_function_is_longer_than_a_screen() -> None:
    long = [
        f"{module.relative}::{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module in MODULES.values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]
    assert long == []
