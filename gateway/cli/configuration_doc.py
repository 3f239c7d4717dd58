"""docs/configuration.md, generated from the Settings class: each setting's type, default and
the comment written above it (and beside it) in gateway/settings.py.

    python3 dev.py docs    # or: python -m gateway.cli.configuration_doc docs/configuration.md
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo

from gateway import settings as settings_module
from gateway.settings import Settings

SOURCE = Path(settings_module.__file__)
HEADER = """# Configuration

Every setting is an environment variable, read once when Patchbay starts. This page is
generated from `gateway/settings.py` (the comment above each field) by `python3 dev.py docs`:
edit the comment there, not this page. Production's own rules are in
[production.md](production.md), the keys' in [authentication.md](authentication.md).

| variable | type | default | meaning |
| --- | --- | --- | --- |
"""


def descriptions(source: str) -> dict[str, str]:
    """Each Settings field's comment: the block right above it, then the one beside it."""
    lines = source.splitlines()
    beside = {
        token.start[0]: token.string.lstrip("# ").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and lines[token.start[0] - 1].lstrip()[:1] != "#"
    }
    found: dict[str, str] = {}
    settings_class = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef) and node.name == "Settings"
    )
    for node in settings_class.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        line = node.lineno - 2
        while line >= 0 and lines[line].lstrip().startswith("#"):
            above.insert(0, lines[line].strip().lstrip("#").strip())
            line -= 1
        parts = [*above, beside.get(node.lineno, "")]
        text = " ".join(part for part in parts if part)
        found[node.target.id] = text[:1].upper() + text[1:]
    return found


def render() -> str:
    described = descriptions(SOURCE.read_text())
    rows = [
        f"| `{variable(name)}` | {_type(field)} | {_default(field)} | "
        f"{_cell(described.get(name, ''))} |"
        for name, field in Settings.model_fields.items()
    ]
    return HEADER + "\n".join(rows) + "\n"


def variable(name: str) -> str:
    return f"PATCHBAY_{name.upper()}"


def _type(field: FieldInfo) -> str:
    if get_origin(field.annotation) is Literal:
        return " or ".join(f"`{choice}`" for choice in get_args(field.annotation))
    text = str(field.annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("pydantic.types.SecretStr", "secret").replace("<class '", "")
    return text.replace("'>", "").replace(" | None", "").replace("|", "or")


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target is None:
        sys.stdout.write(render())
    else:
        target.write_text(render())
        print(f"wrote {target}", file=sys.stderr)
