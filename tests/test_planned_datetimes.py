"""Planned answers leave UTC datetimes to orjson (schema/planned/compiler.py): the bytes
must be exactly those of Strawberry's DateTime serializer, isoformat(), written as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.graphql.transport import encode_json


@given(value=st.datetimes(timezones=st.just(UTC)))
def test_orjson_writes_a_utc_datetime_as_isoformat_does(value: datetime) -> None:
    assert orjson.dumps(value) == json.dumps(value.isoformat()).encode()


@given(value=st.datetimes(timezones=st.just(UTC)), text=st.text())
def test_the_lone_surrogate_fallback_writes_datetimes_the_same(value: datetime, text: str) -> None:
    # given: an answer with a datetime left as it is, and a string orjson may refuse
    answer = {"data": {"at": value, "id": text + "\ud800"}}
    # when
    written = encode_json(answer)
    # then: the same datetime bytes as orjson writes for it
    expected = json.dumps({"data": {"at": value.isoformat(), "id": text + "\ud800"}})
    assert written == expected.encode()


def test_other_offsets_are_written_by_isoformat_not_orjson() -> None:
    # the writers leave only tzinfo-is-UTC datetimes to orjson; this is why: isoformat keeps
    # an offset's seconds, orjson does not
    odd = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1, seconds=7)))
    assert orjson.dumps(odd) != json.dumps(odd.isoformat()).encode()
