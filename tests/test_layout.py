"""The house's rules, checked on the code's own imports: data flows one way.

Floors, from the bottom: db, resolvers, schema, gateway. No module imports a floor above
its own. Inside gateway: settings, then the shared rooms (http, identity, observe,
throttle, tracing), then the fronts (graphql, and a REST front beside it), then app and cli.
A shared room imports no other shared room and no front; a front imports no other front.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["db", "resolvers", "schema", "gateway"]
SHARED_ROOMS = {
    "gateway.changes",
    "gateway.http",
    "gateway.identity",
    "gateway.observe",
    "gateway.throttle",
    "gateway.tracing",
}
FRONTS = {"gateway.graphql", "gateway.rest"}
# Private attributes of other libraries' objects are read in these modules only.
ADAPTERS = {"schema/strawberry_internals.py", "db/sqlite_driver.py"}
PUBLIC_UNDERSCORED = {"_make", "_fields", "_asdict", "_replace"}  # namedtuple's API


def modules() -> dict[str, Path]:
    found = {}
    for floor in FLOORS:
        for path in (ROOT / floor).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def room_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "gateway" and len(parts) > 2 else module


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


MODULES = modules()


def test_the_rooms_are_found() -> None:
    assert {
        "gateway.app",
        "gateway.graphql.view",
        "gateway.rest.endpoints",
        "schema.planned.executor",
        "db.database",
    } <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_floor_above_its_own(module: str) -> None:
    floor = FLOORS.index(module.split(".")[0])
    above = FLOORS[floor + 1 :]
    offenders = [i for i in imports_of(MODULES[module]) if i.split(".")[0] in above]
    assert offenders == [], f"{module} imports a floor above it"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if room_of(m) in SHARED_ROOMS))
def test_shared_rooms_import_no_front_and_no_other_shared_room(module: str) -> None:
    own = room_of(module)
    forbidden = (FRONTS | SHARED_ROOMS | {"gateway.app", "gateway.cli"}) - {own}
    offenders = [i for i in imports_of(MODULES[module]) if any(is_within(i, f) for f in forbidden)]
    assert offenders == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if room_of(m) in FRONTS))
def test_a_front_imports_no_other_front(module: str) -> None:
    others = FRONTS - {room_of(module)}
    offenders = [i for i in imports_of(MODULES[module]) if any(is_within(i, f) for f in others)]
    assert offenders == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("gateway")))
def test_query_execution_stays_out_of_the_http_side(module: str) -> None:
    """graphql-core is the schema's business; gateway reaches it only through Strawberry."""
    assert not any(is_within(i, "graphql") for i in imports_of(MODULES[module]))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("resolvers")))
def test_resolvers_know_nothing_of_graphql_or_http(module: str) -> None:
    offenders = [
        i
        for i in imports_of(MODULES[module])
        if i.split(".")[0] in {"strawberry", "starlette", "graphql", "httpx"}
    ]
    assert offenders == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_private_attributes_of_libraries_are_read_in_the_adapters_only(module: str) -> None:
    path = MODULES[module]
    if path.relative_to(ROOT).as_posix() in ADAPTERS:
        return
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__") or node.attr in PUBLIC_UNDERSCORED:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}:
                continue
            offenders.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
            name = node.args[1] if len(node.args) > 1 else None
            text = str(getattr(name, "value", ""))
            if text.startswith("_") and not text.startswith("__"):
                offenders.append(f"line {node.lineno}: getattr {name.value}")
    assert offenders == []
