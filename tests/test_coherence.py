"""One coherent plan per case: declared conflicts proved impossible, and the answers checked.

The proof (service/coherence.py) runs whenever rules load; these tests show that it finds
a witness when one exists (and that the real engine agrees with the witness), and check
5,000 generated cases in both languages against what the proof and the plan promise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from pysat.solvers import Solver

from service import create_app
from service.coherence import Encoding, find_conflicts, never_given
from service.core import DEFAULT_QUESTIONS, render_guidance
from service.plan import complete
from service.rulebook import RulesError, load_rulebook
from tests.support.cases import RULEBOOK, generate, nest

CYRILLIC = re.compile("[\u0400-\u04ff]")

# Walking away from a scammer: nothing that keeps working with, persuading, accommodating
# or courting this client may stay (written out here, apart from plan.yaml, on purpose).
COURTING = {
    "clarify-payment",
    "keep-reaching-out",
    "explain-why-reply-matters",
    "ask-if-all-is-well",
    "check-reachability",
    "warn-work-suspension",
    "send-protected-previews",
    "admit-mistake",
    "apologize-and-fix",
    "offer-remedies-up-to-refund",
    "offer-options-and-recommend",
    "dont-ignore-or-postpone",
    "stay-diplomatic",
    "cool-down-then-talk",
    "agree-on-channel",
    "bridge-knowledge-gap",
    "check-clients-situation",
    "agree-contact-formats",
    "set-communication-schedule",
    "respect-work-habits",
    "report-on-time",
    "keep-feedback-loop",
    "treat-client-seriously",
    "mind-technical-details",
    "find-cause-of-dissatisfaction",
    "find-out-why-info-missing",
    "justify-information-need",
    "reach-decision-maker",
}
WALK_AWAY = "stop-dealing-with-fraudster"


def problems(body: dict, flat: dict, lang: str) -> list[str]:
    """What an answer breaks of the promises of a coherent plan, one line each."""
    found = []
    given = [s["id"] for s in body["steps"]]
    present = set(given)
    for conflict in RULEBOOK.conflicts:
        if set(conflict.steps) <= present:
            found.append(f"conflict {conflict.steps}")
    if len(present) != len(given):
        found.append("a step twice")
    if len(set(body["rules_fired"])) != len(body["rules_fired"]):
        found.append("a rule twice in rules_fired")
    known = complete(RULEBOOK, flat)
    for step in body["steps"]:
        rules = [b["rule"] for b in step["because"]]
        if len(set(rules)) != len(rules):
            found.append(f"{step['id']}: a rule twice in because")
        for because in step["because"]:
            unknown = [n for n in because["facts"] if n not in known]
            if unknown:
                found.append(f"{step['id']}: cites unknown facts {unknown}")
            sentence = because.get("reason") or ""
            if len(sentence) < 10 or bool(CYRILLIC.search(sentence)) != (lang == "ru"):
                found.append(f"{step['id']}: no {lang} sentence for {because['rule']}")
    asked = [q["field"] for q in body.get("questions", ())]
    if set(asked) & set(known):
        found.append(f"asks what the case settles: {sorted(set(asked) & set(known))}")
    if len(asked) > DEFAULT_QUESTIONS:
        found.append(f"{len(asked)} questions")
    if WALK_AWAY in present and present & COURTING:
        found.append(f"courts a scammer: {sorted(present & COURTING)}")
    return found


def test_5000_generated_cases_give_coherent_plans_in_both_languages(engine):
    failures = []
    walked_away = 0
    for flat in generate(5000, seed=8, form="flat"):
        guidance = engine.evaluate(nest(flat))
        walked_away += any(p.step.id == WALK_AWAY for p in guidance.steps)
        for lang in ("en", "ru"):
            for problem in problems(render_guidance(guidance, lang), flat, lang):
                failures.append(f"{problem}: {flat}")
    assert failures == [], f"{len(failures)} problems, e.g. {failures[:5]}"
    assert walked_away > 500  # the walk-away rule was really exercised


def test_the_bundled_rules_prove_every_declared_conflict_impossible():
    assert RULEBOOK.conflicts and find_conflicts(RULEBOOK) == []
    steps, rules = never_given(RULEBOOK)
    assert steps == [] and rules == []


CONFLICTING_RULE = """\
section: conflict
rules:
  - id: extra-defend
    description: Defends the freelancer in every complaint (contradicts owning a mistake).
    when:
      situations: {includes: dissatisfaction}
      evidence.phone_only: false
    reason: {en: A reason., ru: Причина.}
    add: [cite-written-agreements]
"""


@pytest.fixture
def conflicting_rules(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    (tmp_path / "extra.yaml").write_text(CONFLICTING_RULE, encoding="utf-8")
    return tmp_path


def test_a_rule_that_creates_a_conflict_is_refused_with_a_witness_the_engine_confirms(
    conflicting_rules,
):
    with pytest.raises(RulesError) as error:
        load_rulebook(conflicting_rules)
    message = str(error.value)
    assert (
        f"{conflicting_rules / 'extra.yaml'}: steps cite-written-agreements and "
        "apologize-and-fix can both be given, e.g. for {" in message
    )
    # The witness is a real case: with the proof set aside, the engine gives both steps.
    (conflicting_rules / "plan.yaml").unlink()
    rules = load_rulebook(conflicting_rules)
    witnesses = find_conflicts(_with_conflicts(rules, RULEBOOK))
    assert witnesses
    app = create_app({"TESTING": True, "RULES_DIR": str(conflicting_rules)})
    client = app.test_client()
    for witness in witnesses:
        assert witness.case["situations"] == ["dissatisfaction"]  # small: a case one would write
        body = client.post("/v1/guidance", json=witness.case).get_json()
        assert set(witness.conflict.steps) <= {s["id"] for s in body["steps"]}, witness


def _with_conflicts(rules, source):
    """The rules folder's rulebook with the bundled rulebook's declared conflicts."""
    rules.conflicts = tuple(c for c in source.conflicts if not c.by_supersession)
    return rules


def test_start_up_and_check_refuse_a_conflicting_rule_naming_the_witness(conflicting_rules):
    with pytest.raises(RulesError, match="can both be given, e.g. for"):
        create_app({"TESTING": True, "RULES_DIR": str(conflicting_rules)})
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "check", "--rules", str(conflicting_rules)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        "steps cite-written-agreements and apologize-and-fix can both be given, e.g. for "
        '{"fault": "freelancer"' in result.stderr
    )


def test_check_lists_the_declared_conflicts_and_proves_them():
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "never together: formal-demand-under-contract + no-threats-without-contract"
        in result.stdout
    )
    assert (
        "left out when given: admit-mistake (by stop-dealing-with-fraudster, "
        "name-shared-fault, apologize-and-fix)" in result.stdout
    )
    assert "each proved impossible for every case" in result.stdout


def test_the_encoding_finds_both_steps_of_a_pair_the_rules_do_allow():
    """Completeness in the other direction: pairs that do occur together are found."""
    encoding = Encoding(RULEBOOK)
    with Solver(name="minisat22", bootstrap_with=encoding.clauses) as solver:
        pair = [encoding.present["admit-mistake"], encoding.present["offer-remedies-up-to-refund"]]
        assert solver.solve(assumptions=pair)
        model = encoding.smallest(solver, pair)
        case = encoding.case(model)
    assert case["fault"] == "freelancer"
