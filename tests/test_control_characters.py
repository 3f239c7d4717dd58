"""The rules' control-character check (resolvers/checks.py) is a regex of the ranges of
Unicode's category Cc: it must say exactly what unicodedata says, for every code point."""

from __future__ import annotations

import sys
import unicodedata

from resolvers.checks import has_control_characters


def test_the_regex_finds_exactly_the_characters_of_category_cc() -> None:
    # given every code point, surrogates included (a lone one can reach a check)
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        # then: a control character anywhere in a value is found, and nothing else is
        expected = unicodedata.category(char) == "Cc"
        assert has_control_characters(f"ab{char}cd") is expected, hex(point)


def test_a_value_without_control_characters_passes() -> None:
    assert not has_control_characters("")
    assert not has_control_characters("prm_acme_1 café ☕ \u00a0\u200b")
    assert has_control_characters("tab\there")
