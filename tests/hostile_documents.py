"""Hostile document shapes, each growing with a repeat count: the suite's event-loop budget
test and bench/worst_documents.py (the search for the worst) both grow them to the caps."""

from __future__ import annotations

from collections.abc import Callable

MAX_BODY = 1024 * 1024
Shape = Callable[[int], str]


def fragments(count: int, body: str) -> str:
    spreads = " ".join(f"...F{i}" for i in range(count))
    defs = " ".join(f"fragment F{i} on Query {{ {body} }}" for i in range(count))
    return f"{{ {spreads} }} {defs}"


FAMILIES: dict[str, Shape] = {
    "field with a sub-selection, repeated": lambda n: "{ " + "viewer { __typename } " * n + "}",
    "leaf field, repeated": lambda n: "{ " + "__typename " * n + "}",
    "inline fragments, repeated": lambda n: (
        "{ " + "... on Query { viewer { __typename } } " * n + "}"
    ),
    "nested repeats": lambda n: (
        "{ " + ("viewer { ... on Viewer { " + "organization { slug } " * n + "} } ") * n + "}"
    ),
    "one fragment spread n times": lambda n: (
        "{ " + "...F " * n + "} fragment F on Query { viewer { __typename } }"
    ),
    "n fragments, each repeating a field": lambda n: fragments(n, "viewer { __typename } " * 8),
    "n fragments spread at one place": lambda n: fragments(n, "__typename"),
    "fragments spreading the next twice": lambda n: " ".join(
        ["query { ...F0 }"]
        + [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n)]
        + [f"fragment F{n} on Query {{ viewer {{ __typename }} }}"]
    ),
    "long string arguments, repeated": lambda n: (
        "{ " + f'prompt(id: "{"x" * (MAX_BODY // max(n, 1) - 64)}") {{ __typename }} ' * n + "}"
    ),
    "variables and directives": lambda n: (
        "query Q("
        + ", ".join(f"$v{i}: Boolean = true" for i in range(n))
        + ") { "
        + " ".join(f"__typename @include(if: $v{i})" for i in range(n))
        + " }"
    ),
    "deep selections, repeated at each level": lambda n: (
        "{ "
        + (
            "prompts { ... on PromptConnection { edges { node { links { self { href } } } } } } "
            * n
        )
        + "}"
    ),
    "unknown fields, repeated": lambda n: "{ " + "nope { nada } " * n + "}",
    "aliases at the cap, repeated": lambda n: (
        "{ " + " ".join(f"a{i % 30}: viewer {{ __typename }}" for i in range(n)) + " }"
    ),
}

# Fragments each nesting the next: under an introspection field, where no depth is counted.
FAMILIES["fragments each nesting the next, under __type"] = lambda n: (
    '{ __type(name: "Query") { ...F0 } } '
    + " ".join(f"fragment F{i} on __Type {{ ofType {{ ...F{i + 1} }} }}" for i in range(n))
    + f" fragment F{n} on __Type {{ name }}"
)
