"""Billing's modules import each other in one direction only (see billing/README.md).

Each module of billing (tests and migrations aside) is parsed with ``ast``; imports at
module level *and* inside functions count, so a wrong-direction import cannot hide behind a
lazy one. Checked: (a) no import cycle among billing's modules, (b) each module imports only
the billing modules :data:`LAYERS` allows it, (c) no ``_private`` name of one module is used
by another, (d) no billing module imports another inside a function (bar
:data:`LAZY_ALLOWED`). A new module must be added to :data:`LAYERS`, at its place in the
order.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]
BILLING = BACKEND / "billing"

#: module → the billing modules it may import. Foundations first; each entry names only
#: modules declared above it, so the order of the entries is the layering.
# fmt: off
LAYERS: dict[str, set[str]] = {
    # Foundations: nothing of billing.
    "__init__": set(),
    "management": set(),
    "management.commands": set(),
    "models": set(),
    "exceptions": set(),
    "throttling": set(),  # DRF throttles and the declined-card counter (cache only)
    "serializers": set(),
    "checks": set(),
    "stripe_objects": set(),
    "stripe_client": set(),  # the only module that calls Stripe
    "holders": set(),  # who holds a claim (task id, process) and whether it is gone
    "apps": {"checks"},
    # Reading state: the rule, the dj-stripe mirror, the stored rows.
    "entitlement": {"models", "stripe_objects"},
    "djstripe_sync": {"stripe_objects"},
    "presenters": {"stripe_objects"},  # the contract's shapes of Stripe objects (pure)
    # The price catalogue (our two prices, cached) and which one a request names.
    "plans": {"exceptions", "stripe_objects", "stripe_client", "djstripe_sync"},
    "selectors": {"models", "entitlement"},
    "permissions": {"selectors"},
    # Writing state: the locked account row, the inbox rows.
    "account_state": {"models", "entitlement", "djstripe_sync", "plans", "exceptions"},
    "inbox": {"models", "holders"},
    # Customer-level sync with Stripe, then event → effect, then the Celery tasks.
    "sync": {
        "models", "entitlement", "djstripe_sync", "stripe_objects", "stripe_client",
        "account_state", "presenters",
    },
    "events": {"models", "stripe_objects", "sync"},
    # The e-mails an event asks for and their sending states (it reads Stripe, writes rows).
    "notifications": {"models", "stripe_objects", "stripe_client", "holders"},
    "tasks": {"inbox", "events", "sync", "holders", "notifications"},
    # Promotion codes: found at Stripe, checked, the first invoice previewed (reads only).
    "promotions": {"exceptions", "entitlement", "stripe_objects", "stripe_client"},
    # Requests: the services, the views on them, the webhook receiver, the admin.
    # Changing plans (monthly <-> yearly): previews, the prorated upgrade, the schedule.
    "plan_changes": {
        "models", "exceptions", "entitlement", "stripe_objects", "stripe_client",
        "account_state", "sync", "plans", "presenters", "throttling",
    },
    "services": {
        "models", "exceptions", "entitlement", "djstripe_sync", "stripe_objects",
        "stripe_client", "account_state", "sync", "throttling", "presenters", "plans",
        "promotions", "plan_changes",
    },
    "views": {"serializers", "selectors", "services", "throttling", "plan_changes"},
    "webhooks": {"models", "events", "inbox", "tasks"},
    "admin": {"models", "inbox", "notifications", "tasks"},
    "urls": {"views", "webhooks"},
    "management.commands.create_stripe_data": {"exceptions", "stripe_client", "plans"},
    "management.commands.sync_subscriptions": {"sync"},
}
# fmt: on
#: The billing imports inside a function that are not hiding a cycle.
LAZY_ALLOWED = {("apps", "checks")}  # AppConfig.ready() registers the system checks


@dataclass(frozen=True)
class Import:
    """One use of a billing module by another: ``names`` taken from it, at ``line``."""

    target: str
    names: tuple[str, ...]
    line: int
    lazy: bool  # inside a function
    bound: str | None = None  # the local name the module itself is bound to, if any


def modules(root: Path = BILLING) -> dict[str, Path]:
    """Short name (``sync``, ``management.commands.x``) → file, tests and migrations aside."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "tests" in parts or "migrations" in parts:
            continue
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(dotted: str, package: str, known: dict[str, Path]) -> str | None:
    """The billing module a dotted name is in (its longest known prefix), or None."""
    if dotted != package and not dotted.startswith(package + "."):
        return None
    short = dotted[len(package) + 1 :] if dotted != package else "__init__"
    parts = short.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def _function_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports_of(module: str, path: Path, known: dict[str, Path], package: str) -> list[Import]:
    """The billing modules ``module`` imports, module-level and lazy, relative or not."""
    tree = ast.parse(path.read_text(), str(path))
    lazy_lines = _function_lines(tree)
    here = [package, *module.split(".")] if module != "__init__" else [package]
    if path.name != "__init__.py":
        here = here[:-1]  # a module's package
    found: list[Import] = []
    for node in ast.walk(tree):
        lazy = getattr(node, "lineno", 0) in lazy_lines
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, package, known)
                if target is not None:
                    found.append(Import(target, (), node.lineno, lazy, alias.asname))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from billing import sync`` names a module; ``from .sync import x`` a name.
                target = _resolve(f"{base}.{alias.name}", package, known)
                if target is not None and target != _resolve(base, package, known):
                    bound = alias.asname or alias.name
                    found.append(Import(target, (), node.lineno, lazy, bound))
                    continue
                target = _resolve(base, package, known)
                if target is not None:
                    found.append(Import(target, (alias.name,), node.lineno, lazy))
    return [i for i in found if i.target != module]


def private_uses(module: str, path: Path, known: dict[str, Path], package: str) -> list[str]:
    """``_name``s of other billing modules that ``module`` imports or reads as attributes."""
    found = imports_of(module, path, known, package)
    uses = [
        f"{module}:{i.line} imports {i.target}.{name}"
        for i in found
        for name in i.names
        if name.startswith("_") and not name.startswith("__")
    ]
    bound = {i.bound for i in found if i.bound}  # ``from . import sync`` binds "sync"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            uses.append(f"{module}:{node.lineno} reads {node.value.id}.{node.attr}")
    return uses


def graph(root: Path = BILLING, package: str = "billing") -> dict[str, list[Import]]:
    known = modules(root)
    return {name: imports_of(name, path, known, package) for name, path in known.items()}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def problems(
    root: Path = BILLING,
    package: str = "billing",
    layers: dict[str, set[str]] = LAYERS,
    lazy_allowed: set[tuple[str, str]] = LAZY_ALLOWED,
) -> dict[str, list[str]]:
    """Everything wrong with the imports under ``root``, by kind (empty lists: all good)."""
    known = modules(root)
    imports = graph(root, package)
    edges = {name: {i.target for i in found} for name, found in imports.items()}
    return {
        "cycles": [" -> ".join(c) for c in find_cycles(edges)],
        "undeclared modules": sorted(set(known) - set(layers)),
        "wrong direction": [
            f"{name}:{i.line} imports {i.target}" + (" (lazily)" if i.lazy else "")
            for name, found in imports.items()
            for i in found
            if name in layers and i.target not in layers[name]
        ],
        "private names": [
            use for name, path in known.items() for use in private_uses(name, path, known, package)
        ],
        "lazy imports": [
            f"{name}:{i.line} imports {i.target} inside a function"
            for name, found in imports.items()
            for i in found
            if i.lazy and (name, i.target) not in lazy_allowed
        ],
    }


# --- Billing as it is -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["cycles", "undeclared modules", "wrong direction", "private names", "lazy imports"]
)
def test_billing_imports(kind: str) -> None:
    found = problems()[kind]
    assert found == [], f"billing's imports, {kind}:\n" + "\n".join(found)


def test_the_declared_layers_are_an_order() -> None:
    """Each module may import only modules declared before it: no cycle even on paper."""
    seen: set[str] = set()
    for name, allowed in LAYERS.items():
        assert allowed <= seen, f"{name} may import {sorted(allowed - seen)}, declared later"
        seen.add(name)
    assert not set(LAYERS) - set(modules()), "LAYERS names modules that do not exist"


def test_the_graph_sees_billing() -> None:
    edges = {name: {i.target for i in found} for name, found in graph().items()}
    assert {"sync", "account_state", "stripe_client"} <= edges["services"]
    assert edges["tasks"] == {"events", "holders", "inbox", "notifications", "sync"}
    assert "sync" in edges["management.commands.sync_subscriptions"]


def test_no_test_module_imports_another() -> None:
    """Shared helpers of the tests live in conftest.py (fixtures) and support.py."""
    offenders = []
    for folder in (BILLING / "tests", BACKEND / "quotas" / "tests"):
        for path in sorted(folder.glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or "", *(a.name for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                if any(n.split(".")[-1].startswith("test_") for n in names):
                    offenders.append(f"{path.relative_to(BACKEND)}:{node.lineno}")
    assert offenders == []


# --- The checker finds what it is meant to find ---------------------------------------------

MAIN_LIKE = {
    # services ↔ sync as they once were: sync took services' private lock, services
    # imported sync lazily to dodge the cycle.
    "__init__.py": "",
    "services.py": (
        "def _locked_account(user):\n    pass\n\n\n"
        "def subscription_sync(user):\n"
        "    from .sync import account_sync  # lazily, to dodge the cycle\n"
        "    return account_sync(_locked_account(user))\n"
    ),
    "sync.py": "from .services import _locked_account\n\n\ndef account_sync(a):\n    pass\n",
    "tasks.py": "from . import services\n\nservices._locked_account(None)\n",
}


def test_the_checker_finds_main_like_cycles_and_private_imports(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    for name, text in MAIN_LIKE.items():
        (root / name).write_text(text)
    layers = {"__init__": set(), "sync": set(), "services": {"sync"}, "tasks": {"services"}}
    found = problems(root, "shop", layers)
    assert found["cycles"] == ["services -> sync"]
    assert found["wrong direction"] == ["sync:1 imports services"]
    assert found["private names"] == [
        "sync:1 imports services._locked_account",
        "tasks:3 reads services._locked_account",
    ]
    assert found["lazy imports"] == ["services:6 imports sync inside a function"]
    assert found["undeclared modules"] == []
