"""The public interface and the packaging promises of the repository."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from schema.schema import build_schema


@pytest.mark.parametrize("package", ["gateway", "schema", "resolvers", "db"])
def test_top_level_packages_are_this_repositorys(package: str, repo_root: Path) -> None:
    # PyPI has unrelated packages named `schema` and `db`: make sure ours are imported.
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == repo_root / package


def test_committed_schema_matches_the_code(repo_root: Path) -> None:
    committed = (repo_root / "schema.graphql").read_text()
    exported = build_schema().as_str() + "\n"
    assert committed == exported, "schema.graphql drifted: run `patchbay schema > schema.graphql`"


def test_every_type_and_field_is_described() -> None:
    schema = build_schema()._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "Int", "ID", "Float"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []


def test_resolvers_know_nothing_of_graphql_or_http(repo_root: Path) -> None:
    forbidden = ("strawberry", "starlette", "gateway", "schema.", "from schema", "graphql")
    offenders = [
        f"{path.name}: {word}"
        for path in (repo_root / "resolvers").glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("import ", "from "))
        for word in forbidden
        if word in line
    ]
    assert offenders == []
