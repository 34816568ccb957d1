"""The answers' encoder (orjson) writes the very bytes of the standard library's compact JSON."""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import fastjson
from service.api import render_guidance
from tests.cases import nest, random_flat


def stdlib(value, default=None) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default).encode()


# Any text a JSON string can hold (no lone surrogates: the parser refuses them), every
# control character, the quote, the backslash, U+2028, DEL, and characters beyond the BMP.
_text = st.text(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from('"\\/\x00\x1f\x7f\u2028\U0001d11e')
)
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _text
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(_values)
def test_equal_to_the_standard_library_for_every_json_value_without_floats(value):
    assert fastjson.dumps(value) == stdlib(value)


@settings(max_examples=200, deadline=None)
@given(st.integers(), st.dictionaries(st.integers() | st.booleans(), st.integers(), max_size=4))
def test_what_orjson_refuses_goes_to_the_standard_library(number, non_string_keys):
    assert fastjson.dumps([number]) == stdlib([number])  # beyond 64 bits too
    assert fastjson.dumps(non_string_keys) == stdlib(non_string_keys)


def test_flasks_types_are_written_as_flask_writes_them(app):
    @dataclasses.dataclass
    class Point:
        x: int

    class Name(str):
        pass

    value = {
        "date": datetime.date(2027, 3, 15),
        "when": datetime.datetime(2027, 3, 15, 12, 30),
        "id": uuid.UUID(int=1),
        "point": Point(1),
        "name": Name("Anna"),
        "pair": (1, 2),
    }
    expected = stdlib(value, app.json.default)
    assert fastjson.dumps(value, app.json.default) == expected
    with app.app_context():
        assert app.json.response(value).get_data() == expected + b"\n"
        assert app.json.dumps(value, separators=(",", ":")).encode() == expected
        assert app.json.dumps(value) == json.dumps(
            value, ensure_ascii=False, default=app.json.default
        )


def test_every_answer_is_written_as_the_standard_library_writes_it(state):
    rng = random.Random(16)
    for i in range(400):
        case = nest(random_flat(rng))
        case["case_id"] = f"c-{i} «ёж» \u2028"
        lang = ("en", "ru")[i % 2]
        guidance = state.engine.evaluate(case, i % 3 != 0)
        body = render_guidance(guidance, lang, None if i % 5 == 0 else 5, ("now", "fallback"))
        assert fastjson.dumps(body) == stdlib(body)


def test_the_single_endpoint_answers_with_it(client):
    case = {"case_id": "ёж", "situations": ["non_payment"], "contract": True}
    response = client.post("/v1/guidance?lang=ru", json=case)
    assert response.status_code == 200
    assert response.get_data() == stdlib(response.get_json()) + b"\n"


@pytest.mark.parametrize("compact", [False, None])
def test_indented_output_is_flasks_own(app, compact):
    saved, saved_debug = app.json.compact, app.debug
    app.json.compact, app.debug = compact, True
    try:
        with app.app_context():
            assert app.json.response({"a": [1]}).get_data() == b'{\n  "a": [\n    1\n  ]\n}\n'
    finally:
        app.json.compact, app.debug = saved, saved_debug
