"""A JSON body's keys are distinct within each object: where a repeat is, found without a database."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from diversion_common.json_bodies import repeated_key


def test_a_body_without_repeats_passes():
    assert repeated_key(b'{"type": "a", "data": {"type": "b"}, "items": [{"type": 1}, {"type": 2}]}') is None


def test_a_repeat_is_named_by_its_pointer():
    found = repeated_key(b'{"data": {"items": [{"a": 1}, {"b": 1, "b": 2}]}}')
    assert found is not None and found.pointer == "/data/items/1/b"
    assert found.detail == 'the key "b" appears more than once in this object'


def test_a_key_that_is_not_a_field_name_is_not_quoted_back():
    found = repeated_key('{"x": {"Sam Smith 07700 900123": 1, "Sam Smith 07700 900123": 2}}'.encode())
    assert found is not None and found.pointer == "/x" and "Sam" not in found.detail


def test_a_pointer_escapes_slash_and_tilde():
    found = repeated_key(b'{"a/b~c": {"k": 1, "k": 2}}')
    assert found is not None and found.pointer == "/a~1b~0c/k"


def test_what_is_not_json_is_left_to_the_parser():
    assert repeated_key(b'{"a": ') is None
    assert repeated_key(b"") is None


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_any_body_a_serialiser_writes_has_no_repeat(value):
    assert repeated_key(json.dumps(value).encode()) is None
