"""The validation fast path accepts only what marshmallow accepts, with the same result."""

from __future__ import annotations

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import fastcase
from schemas.case import case_schema
from tests.cases import RULEBOOK, cases

SCHEMA = case_schema(RULEBOOK.facts.values())()
CHECK = fastcase.checker(SCHEMA)
GROUPS = sorted({f.group for f in RULEBOOK.facts.values() if f.group})
NAMES = [f.name for f in RULEBOOK.facts.values() if not f.group] + GROUPS + ["case_id", "context"]

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True)
    | st.text(max_size=140),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def _near(fact) -> st.SearchStrategy:
    """Values close to valid ones: at, inside and just outside the bounds, the wrong type
    of the right look."""
    if fact.type == "integer":
        return st.sampled_from(
            [fact.min, fact.max, fact.min - 1, fact.max + 1, 0, True, False, 5.0, "5"]
        )
    if fact.type == "boolean":
        return st.sampled_from([True, False, 0, 1, "true", None])
    if fact.type == "enum":
        return st.sampled_from([*fact.values, fact.values[0].upper(), "", 1])
    return st.lists(st.sampled_from([*fact.values, "nope", 1, None]), max_size=4)


_context = st.dictionaries(
    st.sampled_from(
        [
            "client_name",
            "freelancer_name",
            "project",
            "amount",
            "currency",
            "due_date",
            "reply_by",
            "platform_name",
            "language",
            "other",
        ]
    ),
    st.none()
    | st.sampled_from(["Anna", "", "a\x00b", "EUR", "eur", "2027-03-15", "2027-02-30", "en"])
    | st.sampled_from([1500, 1499.99, 0.001, -1, 10**13, True]),
    max_size=4,
)


@st.composite
def mutated(draw) -> object:
    """A valid case with a few of its fields changed, removed, added or wrapped."""
    case = draw(cases())
    if draw(st.booleans()):
        case["case_id"] = draw(st.none() | st.text(max_size=130) | st.integers())
    if draw(st.booleans()):
        case["context"] = draw(st.none() | _context | _json)
    for _ in range(draw(st.integers(0, 3))):
        fact = draw(st.sampled_from(list(RULEBOOK.facts.values())))
        how = draw(st.sampled_from(["near", "any", "drop", "null", "unknown", "group"]))
        where = case
        key = fact.name
        if fact.group:
            group = case.get(fact.group)
            if not isinstance(group, dict):
                group = case[fact.group] = {}
            where, key = group, fact.key
        if how == "near":
            where[key] = draw(_near(fact))
        elif how == "any":
            where[key] = draw(_json)
        elif how == "drop":
            where.pop(key, None)
        elif how == "null":
            where[key] = None
        elif how == "unknown":
            where[draw(st.sampled_from(["contarct", "x", "", key + "s"]))] = draw(_json)
        elif fact.group:
            case[fact.group] = draw(st.none() | _json)
    return draw(st.just(case) | st.sampled_from([[case], None, "case", 1]))


def _marshmallow(data):
    try:
        return SCHEMA.load(data), None
    except ma.ValidationError as error:
        return None, error.messages


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_what_the_fast_path_accepts_marshmallow_accepts_with_the_same_result(data):
    loaded, errors = _marshmallow(data)
    fast = CHECK(data)
    if fast is not None:
        assert errors is None, errors
        # repr: the same keys in the same order, and the same types (True is not 1)
        assert repr(fast) == repr(loaded)
    # and the public entry point is marshmallow's judgment, errors included
    if errors is None:
        assert repr(fastcase.load(SCHEMA, data)) == repr(loaded)
    else:
        with pytest.raises(ma.ValidationError) as raised:
            fastcase.load(SCHEMA, data)
        assert raised.value.messages == errors


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_valid_case_takes_the_fast_path(case):
    assert repr(CHECK(case)) == repr(SCHEMA.load(case))


def test_a_context_is_loaded_by_its_marshmallow_field():
    case = {"situations": ["client_silent"], "context": {"reply_by": "2027-03-15", "amount": 10}}
    assert repr(CHECK(case)) == repr(SCHEMA.load(case))
    assert CHECK({**case, "context": {"currency": "EUR"}}) is None  # its schema-level check


def test_a_schema_the_checker_does_not_know_goes_to_marshmallow():
    class Hooked(ma.Schema):
        situations = ma.fields.List(ma.fields.String())

        @ma.post_load
        def _tag(self, data, **kwargs):
            return {**data, "tagged": True}

    schema = Hooked()
    assert fastcase.checker(schema)({"situations": ["x"]}) is None
    assert fastcase.load(schema, {"situations": ["x"]}) == {"situations": ["x"], "tagged": True}
