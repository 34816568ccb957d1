"""Shared by the batch tests and bench/: seeded generated cases, their expected answers
as the single endpoint gives them, and comparisons that name the first difference."""

from __future__ import annotations

import json
import random

from cases import RULEBOOK, consistent, nest

from service.api import render_guidance

COLUMNS = ("case_id", *RULEBOOK.facts)


def _value(rng: random.Random, fact):
    if fact.type == "boolean":
        return rng.random() < 0.5
    if fact.type == "enum":
        return rng.choice(fact.values)
    if fact.type == "integer":
        # As tests/cases.py: the rules' thresholds and their neighbours, or anything in bounds.
        cuts = RULEBOOK.cuts.get(fact.name, ())
        edges = sorted(
            {fact.min, fact.max, *cuts, *(c - 1 for c in cuts)} & set(range(fact.min, fact.max + 1))
        )
        return rng.choice(edges) if rng.random() < 0.5 else rng.randint(fact.min, fact.max)
    return rng.sample(fact.values, rng.randint(1, len(fact.values)))


def generated_cases(count: int, seed: int = 4) -> list[dict]:
    """Valid cases: situations always, each other fact known or not; every 50th has no id."""
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        flat = {
            fact.name: _value(rng, fact)
            for fact in RULEBOOK.facts.values()
            if fact.required or rng.random() < 0.5
        }
        case = nest(consistent(flat))
        if i % 50:
            case = {"case_id": f"case-{i:05d}", **case}
        cases.append(case)
    return cases


def csv_cell(value, upper: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
        return text.upper() if upper else text
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def csv_row(case: dict, upper: bool = False) -> list[str]:
    flat = {"case_id": case.get("case_id")}
    for name in RULEBOOK.facts:
        group, _, key = name.partition(".")
        flat[name] = case.get(group, {}).get(key) if key else case.get(name)
    return [csv_cell(flat[column], upper) for column in COLUMNS]


_expected: dict[tuple, tuple] = {}


def expected_answers(
    state, cases: list[dict], lang: str = "en", questions: bool = True
) -> list[dict]:
    """What POST /v1/guidance answers for each case: the engine, rendered as the API does.

    Kept per list (the list is held too, so its id cannot be reused): the API tests share it.
    """
    key = (id(cases), lang, questions)
    if key not in _expected:
        _expected[key] = (
            cases,
            [
                render_guidance(state.engine.evaluate(state.schema.load(c), questions), lang)
                for c in cases
            ],
        )
    return _expected[key][1]


def as_json(value) -> bytes:
    """`value` written as the API writes JSON (Flask's jsonify: compact, UTF-8 as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def expected_lines(
    state, cases: list[dict], lang: str = "en", questions: bool = True
) -> list[bytes]:
    """Each case's answer as the single endpoint sends it, byte for byte (without its \\n)."""
    return [as_json(answer) for answer in expected_answers(state, cases, lang, questions)]


def json_lines(data: bytes) -> list[bytes]:
    """The lines of JSONL output (str.splitlines would also split at U+2028)."""
    assert data.endswith(b"\n") or not data
    return data.split(b"\n")[:-1]


def jsonl_answers_from(data: bytes) -> list[dict]:
    return [json.loads(line) for line in json_lines(data)]


def assert_same(got: list, expected: list) -> None:
    """Equal lists, naming the first difference (a whole-list diff would take minutes).

    The answers are compared as the bytes the API sends: parsing 10,000 of them would take
    longer than producing them.
    """
    assert len(got) == len(expected)
    for index, (answer, wanted) in enumerate(zip(got, expected, strict=True)):
        assert answer == wanted, f"answer {index} differs"


def arrow_schema(rulebook):
    """The Arrow schema of cases: a struct column for each group of nested facts."""
    import pyarrow as pa

    types = {
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "enum": pa.string(),
        "list": pa.list_(pa.string()),
    }
    fields: dict = {"case_id": pa.string()}
    groups: dict = {}
    for name, fact in rulebook.facts.items():
        if fact.group:
            groups.setdefault(fact.group, []).append(pa.field(fact.key, types[fact.type]))
            fields.setdefault(fact.group, None)
        else:
            fields[name] = types[fact.type]
    return pa.schema(
        [(name, pa.struct(groups[name]) if kind is None else kind) for name, kind in fields.items()]
    )
