"""The one case generator (tests/support/cases.py): deterministic, valid, covering the facts.

The tests and bench/ all draw their cases from it, so what they measure or check depends on
these properties: the same seed gives the same cases (in another process too, whatever its
hash seed), every valid case passes the schema and contradicts no implication, every fact is
both known and unknown and takes every value class the rules tell apart, and every spoiled
case is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from marshmallow import ValidationError

from service.plan import complete
from tests.support.cases import (
    COLUMNS,
    RULEBOOK,
    SPOILS,
    batch_cases,
    csv_row,
    edges,
    flatten,
    generate,
    nest,
    strategy,
)
from tests.support.server import ROOT

OPTIONS = {"ids": "case-{:05d}", "unnamed_every": 50, "context_chance": 0.5}


def test_the_same_seed_gives_the_same_cases():
    assert generate(500, seed=3, **OPTIONS) == generate(500, seed=3, **OPTIONS)
    assert generate(500, seed=3, **OPTIONS) != generate(500, seed=4, **OPTIONS)
    for form in ("flat", "csv"):
        assert generate(200, seed=9, form=form) == generate(200, seed=9, form=form)
    assert generate(200, seed=9, invalid=0.5) == generate(200, seed=9, invalid=0.5)
    # A longer run starts with the shorter one: a count only adds cases at the end.
    assert generate(1000, seed=3, **OPTIONS)[:500] == generate(500, seed=3, **OPTIONS)


def test_the_same_seed_gives_the_same_cases_in_another_process():
    code = (
        "import json; from tests.support.cases import generate; "
        "print(json.dumps(generate(300, seed=11, ids='c{}', context_chance=0.3, invalid=0.2)))"
    )
    here = generate(300, seed=11, ids="c{}", context_chance=0.3, invalid=0.2)
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(out) == here


def test_generated_cases_are_valid_and_cover_every_fact(state):
    cases = generate(3000, seed=1)
    known: Counter = Counter()
    seen: dict[str, set] = {name: set() for name in RULEBOOK.facts}
    for case in cases:
        state.schema.load(case)  # raises if the schema refuses it
        flat = flatten(case)
        assert nest(flat) == case
        facts = complete(RULEBOOK, flat)
        for implication in RULEBOOK.implications:
            if implication.test(facts):
                assert all(flat.get(n, v) == v for n, v in implication.then.items()), case
        known.update(flat.keys())
        for name, value in flat.items():
            seen[name].update(value if isinstance(value, list) else [value])
    for name, fact in RULEBOOK.facts.items():
        if fact.required:
            assert known[name] == len(cases), name
        else:
            # known half of the time, less where an implication settles it instead
            assert 0.2 * len(cases) < known[name] < 0.7 * len(cases), (name, known[name])
        if fact.type == "boolean":
            assert seen[name] == {True, False}, name
        elif fact.type in ("enum", "list"):
            assert seen[name] == set(fact.values), name
        else:  # every threshold of the rules, its neighbour below, and both bounds
            assert set(edges(fact)) <= seen[name], (name, set(edges(fact)) - seen[name])


def test_each_situation_leads_in_turn_in_the_benches_mix():
    values = RULEBOOK.facts["situations"].values
    cases = generate(len(values) * 20, seed=2, situations="each", ids="b{}")
    for index, case in enumerate(cases):
        assert case["situations"][0] == values[index % len(values)]
        assert 1 <= len(case["situations"]) <= 3
        assert case["case_id"] == f"b{index}"


def test_ids_and_unnamed_cases():
    cases = batch_cases(120, seed=5)
    assert [("case_id" in c) for c in cases] == [i % 50 != 0 for i in range(120)]
    assert cases[7]["case_id"] == "case-00007"
    assert all("case_id" not in c for c in generate(20, seed=5))


def test_the_csv_form_is_the_row_of_the_same_case():
    nested = generate(100, seed=6, ids="r{}")
    rows = generate(100, seed=6, ids="r{}", form="csv")
    assert rows == [csv_row(case) for case in nested]
    assert all(len(row) == len(COLUMNS) for row in rows)
    assert rows[0][0] == "r0"


def test_contexts_are_valid_and_vary(state):
    cases = generate(400, seed=7, context_chance=1.0)
    fields: Counter = Counter()
    for case in cases:
        state.schema.load(case)
        fields.update(case["context"].keys())
    assert {"client_name", "freelancer_name", "project", "amount", "currency"} <= set(fields)
    assert {"due_date", "reply_by", "platform_name", "language"} <= set(fields)


def test_every_spoiled_case_is_refused_by_the_schema(state):
    cases = generate(600, seed=8, invalid=1.0, ids="s{}")
    for case in cases:
        with pytest.raises(ValidationError):
            state.schema.load(case)
    # Spoiled half of the time: the others stay valid.
    mixed = generate(400, seed=8, invalid=0.5)
    refused = 0
    for case in mixed:
        try:
            state.schema.load(case)
        except ValidationError:
            refused += 1
    assert 120 < refused < 280
    assert len(SPOILS) == 6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=strategy(ids="h{}", context_chance=0.5))
def test_the_hypothesis_strategy_draws_valid_cases(state, case):
    state.schema.load(case)
    assert case["case_id"] == "h0"


def test_unknown_options_are_refused():
    with pytest.raises(ValueError):
        generate(1, form="xml")
    with pytest.raises(ValueError):
        generate(1, situations="some")
