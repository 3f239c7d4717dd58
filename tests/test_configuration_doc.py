"""docs/configuration.md is the one complete list of settings, generated from the Settings class."""

from __future__ import annotations

from gateway.cli.configuration_doc import SOURCE, descriptions, render, variable
from gateway.settings import Settings
from tests.live_server import REPO

DOC = REPO / "docs" / "configuration.md"
HOW = "run `python3 dev.py docs` and commit docs/configuration.md"


def test_every_setting_has_a_comment_to_document_it() -> None:
    described = descriptions(SOURCE.read_text())
    silent = [variable(name) for name in Settings.model_fields if not described.get(name)]
    assert silent == [], (
        f"{silent}: write a comment above the field in gateway/settings.py, then {HOW}"
    )


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = DOC.read_text()
    missing = [variable(n) for n in Settings.model_fields if f"`{variable(n)}`" not in text]
    assert missing == [], f"{missing} missing from docs/configuration.md: {HOW}"


def test_the_configuration_reference_is_what_the_settings_class_says() -> None:
    assert DOC.read_text() == render(), f"docs/configuration.md is out of date: {HOW}"


def test_the_generator_reads_comments_above_and_beside_a_field() -> None:
    source = """
class Settings:
    # Above, line one,
    # line two.
    first: int = 1  # beside
    second: str = ""

    third: bool = True  # only beside
"""
    assert descriptions(source) == {
        "first": "Above, line one, line two. beside",
        "second": "",
        "third": "Only beside",
    }
