"""The product's import graph: no cycles between its modules, and nothing of the tools.

Every module under backend/ (tests and migrations aside) is parsed with ``ast``; imports at
module level *and* inside functions count, so a cycle cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
import graphlib
from functools import cache
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]
TOOLS = ("fakestripe", "fakeedgar", "devstack", "bench")  # tools/*: never shipped or imported


def _is_product_file(path: Path) -> bool:
    parts = path.relative_to(BACKEND).parts
    return not (
        "tests" in parts
        or "migrations" in parts
        or parts[0] in ("conftest.py", "manage.py")
        or parts[0].startswith(".")
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(BACKEND).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_modules() -> dict[str, Path]:
    return {
        _module_name(path): path for path in sorted(BACKEND.rglob("*.py")) if _is_product_file(path)
    }


def imported_names(module: str, path: Path) -> set[str]:
    """Absolute names of what ``module`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def graph() -> dict[str, set[str]]:
    """module → the product modules it imports (a name resolves to its longest module prefix)."""
    modules = product_modules()
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in modules:
                    if candidate != module and not module.startswith(candidate + "."):
                        targets.add(candidate)
                    break
        edges[module] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``edges`` (its modules, the first again at the end), or []."""
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_the_graph_sees_the_product() -> None:
    modules = product_modules()
    assert {"billing.services", "accounts.views", "config.urls", "devtools.oidc.views"} <= set(
        modules
    )
    assert "billing.models" in graph()["billing.services"]
    assert "accounts.models" in graph()["billing.selectors"]


def test_no_import_cycle_between_product_modules() -> None:
    cycle = find_cycle(graph())
    assert cycle == [], "an import cycle (module-level or lazy) in backend/: " + " → ".join(cycle)


def test_cycle_finder_finds_a_cycle_and_a_lazy_one() -> None:
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    lazy = "def f():\n    from billing import services\n"
    tree_names = set()
    for node in ast.walk(ast.parse(lazy)):
        if isinstance(node, ast.ImportFrom):
            tree_names.add(node.module)
    assert tree_names == {"billing"}  # function-level imports are walked too


def test_the_product_imports_no_tool() -> None:
    """What the image ships never imports tools/ (they are not in the image)."""
    offending = {
        module: sorted(n for n in imported_names(module, path) if n.split(".")[0] in TOOLS)
        for module, path in product_modules().items()
    }
    assert {m: names for m, names in offending.items() if names} == {}, "tools/ never ships"


@pytest.mark.parametrize("app", ["accounts", "billing", "filings", "quotas", "config"])
def test_product_apps_import_devtools_only_from_dev_settings(app: str) -> None:
    """The dev glue is reached only from dev settings and the guarded URL map."""
    allowed = {"config.settings.local", "config.settings.stack", "config.urls"}
    offenders = sorted(
        module
        for module, targets in graph().items()
        if module.split(".")[0] == app
        and module not in allowed
        and any(t.split(".")[0] == "devtools" for t in targets)
    )
    assert offenders == []
