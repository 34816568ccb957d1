"""Follow-up questions, proved against the real engine."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from service.plan import complete, contradictions
from tests.support.cases import RULEBOOK, nest, strategy
from tests.support.contract import checked

QUESTION_PROPERTY = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def steps(engine, flat) -> set[str]:
    return {a.step.id for a in engine.evaluate(nest(flat), questions=False).steps}


def values_to_try(fact) -> list:
    """Every answer that could matter: all values, or each side of every threshold."""
    if fact.type == "boolean":
        return [True, False]
    if fact.type == "enum":
        return list(fact.values)
    cuts = RULEBOOK.cuts.get(fact.name, ())
    return sorted(
        {fact.min, fact.max, *cuts, *(c - 1 for c in cuts)} & set(range(fact.min, fact.max + 1))
    )


@QUESTION_PROPERTY
@given(strategy(form="flat"))
def test_each_option_changes_the_steps_exactly_as_it_says(engine, flat):
    before = steps(engine, flat)
    guidance = engine.evaluate(nest(flat))
    listed = {q.fact.name: q for q in guidance.questions}
    known = complete(RULEBOOK, flat)
    for name, question in listed.items():
        assert name not in known, "only unknown facts are asked, never implied ones"
        assert any(o.add or o.remove for o in question.options)
        for option in question.options:
            after = steps(engine, {**flat, name: option.answer.value})
            assert after == (before | set(option.add)) - set(option.remove), (name, option)
            assert not set(option.add) & before and set(option.remove) <= before
    for name, fact in RULEBOOK.facts.items():
        if name in known or fact.type == "list":
            continue
        offered = {o.answer.value for o in listed[name].options} if name in listed else set()
        for value in values_to_try(fact):
            if contradictions(RULEBOOK, {**flat, name: value}):
                assert value not in offered, "an answer that contradicts the case is not offered"
            elif name not in listed:
                assert steps(engine, {**flat, name: value}) == before, (name, value)


@QUESTION_PROPERTY
@given(strategy(form="flat"))
def test_every_value_in_a_number_range_has_the_same_effect(engine, flat):
    guidance = engine.evaluate(nest(flat))
    for question in guidance.questions:
        if question.fact.type != "integer":
            continue
        fact = question.fact
        cuts = [c for c in RULEBOOK.cuts[fact.name] if fact.min < c <= fact.max]
        bounds = [fact.min, *cuts, fact.max + 1]
        for option, (lo, hi) in zip(
            question.options, zip(bounds, bounds[1:], strict=False), strict=False
        ):
            assert lo <= option.answer.value < hi
            assert steps(engine, {**flat, fact.name: lo}) == steps(
                engine, {**flat, fact.name: hi - 1}
            )


def test_only_non_payment_asks_the_contract_first(client):
    response = client.post("/v1/guidance", json={"situations": ["non_payment"]})
    body = checked(response, "/v1/guidance", "POST")
    first = body["questions"][0]
    assert first["field"] == "contract"
    options = {o["value"]: o for o in first["options"]}
    assert options[True]["add"] == ["formal-demand-under-contract"]
    assert options[False]["add"] == ["no-threats-without-contract"]
    # Under a contract the formal demand is the fallback, in place of a firm reminder.
    assert options[True]["remove"] == ["firm-reminder-with-date"]
    assert options[False]["remove"] == []
    assert options[True]["label"] and first["question"].endswith("?")


def test_numbers_are_asked_as_ranges_split_at_the_rules_thresholds(client):
    body = client.post(
        "/v1/guidance?lang=en&questions=all",
        json={"situations": ["client_silent"], "stage": "in_progress"},
    ).get_json()
    silent = next(q for q in body["questions"] if q["field"] == "client.silent_days")
    assert [o["label"] for o in silent["options"]] == ["fewer than 5", "5 or more"]
    assert [o["value"] for o in silent["options"]] == [2, 5]
    assert silent["options"][1]["add"] == ["warn-work-suspension"]
    body = client.post(
        "/v1/guidance?lang=ru&questions=all",
        json={"situations": ["client_silent"], "stage": "in_progress"},
    ).get_json()
    silent = next(q for q in body["questions"] if q["field"] == "client.silent_days")
    assert [o["label"] for o in silent["options"]] == ["меньше 5", "5 и больше"]


def test_facts_that_change_nothing_are_not_asked(client):
    body = client.post("/v1/guidance", json={"situations": ["new_client"]}).get_json()
    asked = {q["field"] for q in body["questions"]}
    # Silence and information facts matter only in their own situations.
    assert not asked & {
        "client.silent_days",
        "client.contact_attempts",
        "information.blocking",
        "information.warning_sent",
        "payment_state",
    }
    # Contract and prepayment matter together here (no contract AND no prepayment), so
    # neither alone changes the steps while the other is unknown: each is asked once
    # the other is known.
    assert "client.toxic" in asked and "contract" not in asked
    body = client.post(
        "/v1/guidance", json={"situations": ["new_client"], "prepayment": "none"}
    ).get_json()
    assert "contract" in {q["field"] for q in body["questions"]}


def test_a_fully_known_case_has_no_questions(client):
    flat = {
        name: (
            f.values[0]
            if f.type == "enum"
            else f.min
            if f.type == "integer"
            else [f.values[0]]
            if f.type == "list"
            else False
        )
        for name, f in RULEBOOK.facts.items()
    }
    body = client.post("/v1/guidance", json=nest(flat)).get_json()
    assert body["questions"] == []


def test_a_new_rule_on_a_new_fact_makes_it_askable(tmp_path):
    import shutil

    from service.state import load

    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    facts = (tmp_path / "facts.yaml").read_text(encoding="utf-8")
    facts = facts.replace(
        "facts:\n",
        "facts:\n"
        "  - name: client.abroad\n"
        "    type: boolean\n"
        "    description: The client lives in another country.\n"
        "    question: {en: 'Is the client abroad?', ru: 'Клиент за границей?'}\n"
        "    labels:\n"
        "      'yes': {en: 'Yes', ru: 'Да'}\n"
        "      'no': {en: 'No', ru: 'Нет'}\n",
        1,
    )
    (tmp_path / "facts.yaml").write_text(facts, encoding="utf-8")
    (tmp_path / "abroad.yaml").write_text(
        "section: nonpay\n"
        "rules:\n"
        "  - id: abroad-escrow\n"
        "    description: A client abroad is safest through an escrow platform.\n"
        "    when:\n"
        "      situations: {includes: non_payment}\n"
        "      client.abroad: true\n"
        "    reason: {en: The client is abroad., ru: Клиент за границей.}\n"
        "    add: [confirm-agreements-in-writing]\n",
        encoding="utf-8",
    )
    state = load(tmp_path)
    questions = state.engine.evaluate({"situations": ["non_payment"]}).questions
    abroad = next(q for q in questions if q.fact.name == "client.abroad")
    assert abroad.options[0].add == ("confirm-agreements-in-writing",)
    assert state.schema.load({"situations": ["conflict"], "client": {"abroad": True}})
