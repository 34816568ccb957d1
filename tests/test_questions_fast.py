"""The fast ways of the plan and the questions (bit masks, tables per fact, generated
functions) against straightforward references (tests/support/reference.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings

from service.engine import Engine
from service.rulebook import load_rulebook
from tests.support import reference
from tests.support.cases import RULEBOOK, edges, generate, nest, strategy
from tests.support.rulebooks import write_rulebook

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def same_as_reference(engine, flat: dict) -> None:
    guidance = engine.evaluate(nest(flat))
    rulebook = engine.rulebook
    assert guidance.steps == reference.plan(rulebook, guidance.rules_fired)
    given_ids = {p.step.id for p in guidance.steps}
    expected = reference.questions(engine, guidance.facts, given_ids)
    assert list(guidance.questions) == expected


def test_the_questions_and_the_plan_equal_the_reference(engine):
    for known in (0.2, 0.5, 0.8):
        for flat in generate(200, seed=11, form="flat", known=known):
            same_as_reference(engine, flat)


@PROPERTY
@given(strategy(form="flat"))
def test_the_questions_equal_the_reference_for_any_case(engine, flat):
    same_as_reference(engine, flat)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The bundled facts with 400 generated rules: conditions of every shape, `any`s across
    facts among them."""
    folder = write_rulebook(tmp_path_factory.mktemp("fast"), RULEBOOK, 400, seed=7)
    engine = Engine(load_rulebook(folder))
    yield engine
    engine.close()


def test_on_a_generated_rulebook_too(generated):
    probes = [p for ps in generated.asker._probes.values() for p in ps]
    assert any(p.either for p in probes)
    for flat in generate(150, seed=12, form="flat"):
        same_as_reference(generated, flat)


def test_the_plan_of_any_set_of_rules_equals_the_reference(engine):
    rng = random.Random(3)
    rules = RULEBOOK.rules
    for _ in range(2000):
        fired = [r for r in rules if rng.random() < rng.choice((0.05, 0.2, 0.5))]
        assert engine.planner.plan(fired) == reference.plan(RULEBOOK, fired)


@pytest.mark.parametrize("which", ["bundled", "generated"])
def test_the_parts_that_hold_equal_each_part_evaluated(engine, generated, which):
    asker = (engine if which == "bundled" else generated).asker
    tests = reference.part_tests(asker)
    masks = asker.part_masks
    cases = generate(300, seed=13, form="flat")
    for flat in cases:
        assert masks.holding(flat) == reference.holding(tests, flat)
    rng = random.Random(4)
    for name, fact in RULEBOOK.facts.items():  # every value of each fact, in a case
        if fact.type == "boolean":
            values: list = [True, False]
        elif fact.type == "enum":
            values = list(fact.values)
        elif fact.type == "integer":
            values = sorted({*edges(fact), *(rng.randint(fact.min, fact.max) for _ in range(20))})
        else:
            values = [rng.sample(fact.values, rng.randint(1, len(fact.values))) for _ in range(40)]
        for value in values:
            flat = {**rng.choice(cases), name: value}
            base = {k: v for k, v in flat.items() if k != name}
            assert masks.holding(flat) == reference.holding(tests, flat), (name, value)
            # One fact set on a case without it: only the parts reading it change.
            now = masks.update(masks.holding(base), flat, name)
            assert now == reference.holding(tests, flat), (name, value)
