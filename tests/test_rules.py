"""The bundled rules: each file's own cases, full coverage, and the rules of thumb for all
inputs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from schemas.rules import PHASES
from service.cli import run_rule_tests
from service.engine import flatten
from service.plan import complete
from tests.support.cases import RULEBOOK, strategy

PROPERTY = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def steps_of(state, case) -> list[str]:
    return [a.step.id for a in state.engine.evaluate(state.schema.load(case), False).steps]


@pytest.mark.parametrize("rule_test", RULEBOOK.tests, ids=lambda t: f"{t.file}::{t.name}")
def test_rule_file_case(state, rule_test):
    steps = set(steps_of(state, rule_test.case))
    assert not [s for s in rule_test.expect if s not in steps], f"got {sorted(steps)}"
    assert not [s for s in rule_test.forbid if s in steps], f"got {sorted(steps)}"


def test_every_step_is_produced_by_some_rule_file_case(state):
    produced = set()
    for rule_test in state.rulebook.tests:
        produced.update(steps_of(state, rule_test.case))
    assert set(state.rulebook.steps) - produced == set()


def test_every_guidance_step_id_is_in_the_catalogue(state):
    guidance_ids = {  # the article's steps: released ids, the contract clients key on
        "stay-diplomatic",
        "cool-down-then-talk",
        "no-mutual-accusations",
        "cite-written-agreements",
        "confirm-agreements-in-writing",
        "admit-mistake",
        "offer-remedies-up-to-refund",
        "agree-on-channel",
        "bridge-knowledge-gap",
        "check-clients-situation",
        "decline-politely",
        "keep-reaching-out",
        "explain-why-reply-matters",
        "ask-if-all-is-well",
        "warn-work-suspension",
        "prepayment-not-refundable",
        "keep-tone-professional",
        "check-reachability",
        "clarify-payment",
        "send-protected-previews",
        "archive-correspondence",
        "formal-demand-under-contract",
        "no-threats-without-contract",
        "secure-contract-or-prepayment",
        "stop-dealing-with-fraudster",
        "use-platform-dispute",
        "find-out-why-info-missing",
        "justify-information-need",
        "warn-delay-in-writing",
        "reach-decision-maker",
        "pause-blocked-work",
        "find-cause-of-dissatisfaction",
        "apologize-and-fix",
        "explain-objectively",
        "defend-with-documents",
        "dont-ignore-or-postpone",
        "offer-options-and-recommend",
        "dont-shift-blame",
        "dont-accept-unfounded-blame",
        "assess-client-early",
        "agree-contact-formats",
        "set-communication-schedule",
        "respect-work-habits",
        "report-on-time",
        "keep-feedback-loop",
        "record-every-agreement",
        "mind-technical-details",
        "treat-client-seriously",
    }
    assert guidance_ids <= set(state.rulebook.steps)


def test_every_fact_is_read_by_a_rule(state):
    unread = [n for n in state.rulebook.facts if n not in state.rulebook.rules_reading]
    assert unread == []


def test_check_runs_the_rule_cases_without_failures(state):
    assert run_rule_tests(state) == []


@PROPERTY
@given(strategy(form="flat"))
def test_python_compilation_agrees_with_the_engine(engine, flat):
    fired = set(engine.fire(flat))
    assert {r.id for r in engine.rulebook.rules if r.test(flat)} == fired


@PROPERTY
@given(strategy())
def test_rules_of_thumb_hold_for_every_case(state, case):
    steps = steps_of(state, case)
    present = set(steps)
    flat = complete(RULEBOOK, flatten(case))  # with what the facts imply
    situations = set(flat["situations"])
    contract = flat.get("contract")
    # A formal demand only with a contract; without one, the warning against threats instead.
    if "formal-demand-under-contract" in present:
        assert contract is True
    if (
        contract is False
        and "non_payment" in situations
        and "stop-dealing-with-fraudster" not in present
    ):  # walking away: no letters at all
        assert "no-threats-without-contract" in present
    if contract is None:
        assert not present & {"formal-demand-under-contract", "no-threats-without-contract"}
    # Fraud (a matter of money): stop dealing, and the persuading steps give way.
    if flat.get("client.fraud_signals") is True and situations & {
        "non_payment",
        "client_silent",
        "new_client",
    }:
        assert "stop-dealing-with-fraudster" in present
        assert not present & {
            "clarify-payment",
            "keep-reaching-out",
            "explain-why-reply-matters",
            "ask-if-all-is-well",
            "offer-options-and-recommend",
            "offer-remedies-up-to-refund",
            "cool-down-then-talk",
            "stay-diplomatic",
        }
    assert not {"offer-remedies-up-to-refund", "prepayment-not-refundable"} <= present
    # Order: by phase (now, fallback, next time), then categories in their fixed sequence.
    categories = state.rulebook.categories
    planned = state.engine.evaluate(state.schema.load(case), False).steps
    ranks = [(PHASES.index(p.phase), categories.index(p.step.category)) for p in planned]
    assert ranks == sorted(ranks)
    assert all(p.phase != "fallback" for p in planned if p.step.category == "prevent")
    assert len(steps) == len(present)


@PROPERTY
@given(strategy())
def test_unknown_contract_makes_contract_the_first_question(state, case):
    case.pop("contract", None)
    if (case.get("platform") or {}).get("escrow"):
        del case["platform"]  # an escrow platform's terms are the contract: it would be known
    for term in ("acceptance_period", "rights_on_full_payment"):  # contract terms: the same
        case.pop(term, None)
    if "non_payment" not in case["situations"]:
        case["situations"].append("non_payment")
    guidance = state.engine.evaluate(state.schema.load(case))
    asked = [q.fact.name for q in guidance.questions]
    if "stop-dealing-with-fraudster" not in {p.step.id for p in guidance.steps}:
        assert asked[0] == "contract"
    else:  # walking away, the contract still decides the formal demand, if anything
        assert "contract" not in asked or asked[0] == "contract"
