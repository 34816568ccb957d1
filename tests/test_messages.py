"""Ready-to-send messages: composed from the plan, filled from the context, safe by construction."""

from __future__ import annotations

import re
import shutil

import pytest

from schemas.case import CONTEXT_FIELDS
from service.core import ALL_MESSAGES, render_guidance
from service.messages import PLACEHOLDER, values
from service.rulebook import RulesError, load_rulebook
from service.state import load
from tests.support.cases import RULEBOOK, flatten, generate
from tests.support.contract import checked

GUIDANCE = "/v1/guidance"
LATIN = re.compile("[A-Za-z]")
CYRILLIC = re.compile("[\u0400-\u04ff]")
CONSEQUENCE = re.compile(r"\botherwise\b|в противном случае|\bиначе\b", re.IGNORECASE)
WALK_AWAY = "stop-dealing-with-fraudster"
COURTING = {  # as in test_coherence: what keeps working with or persuading the client
    "clarify-payment",
    "keep-reaching-out",
    "explain-why-reply-matters",
    "ask-if-all-is-well",
    "warn-work-suspension",
    "send-protected-previews",
    "admit-mistake",
    "apologize-and-fix",
    "offer-remedies-up-to-refund",
    "offer-options-and-recommend",
    "cool-down-then-talk",
    "agree-on-channel",
    "check-clients-situation",
    "find-cause-of-dissatisfaction",
    "find-out-why-info-missing",
    "justify-information-need",
    "reach-decision-maker",
    "firm-reminder-with-date",
    "quote-extras-as-paid-changes",
    "point-to-agreed-scope",
    "offer-something-for-delay",
    "next-stage-after-payment",
    "decline-politely",
}


def test_2000_cases_with_random_contexts_give_safe_messages_and_the_same_steps(state):
    templates = state.rulebook.messages
    failures = []
    courting_plans = 0
    for case in generate(2000, seed=14, context_chance=1.0):
        context = case.pop("context")
        flat = flatten(case)
        with_context = state.schema.load({**case, "context": context})
        bare = state.engine.evaluate(state.schema.load(case), questions=False)
        guidance = state.engine.evaluate(with_context, questions=False)
        if [(p.step.id, p.phase) for p in guidance.steps] != [
            (p.step.id, p.phase) for p in bare.steps
        ]:
            failures.append(f"the context changed the steps: {flat} {context}")
        given = {p.step.id: p.phase for p in guidance.steps}
        walks_away = WALK_AWAY in given
        courting_plans += walks_away
        for lang in ("en", "ru"):
            body = render_guidance(guidance, lang, 0, ALL_MESSAGES)
            for message in body["messages"]:
                failures += [
                    f"{problem}: {flat} {context} {message}"
                    for problem in _problems(
                        message, given, walks_away, with_context["context"], templates.max_length
                    )
                ]
    assert failures == [], f"{len(failures)} problems, e.g. {failures[:3]}"
    assert courting_plans > 100


def _problems(message: dict, given: dict, walks_away: bool, context: dict, limit: int):
    text = message["subject"] + "\n" + message["text"]
    without_values = text
    for value in sorted(_shown(context), key=len, reverse=True):
        without_values = without_values.replace(value, "")
    # A brace, or a placeholder's name (those that are no plain word: client_name, ...).
    if re.search(r"[{}]", without_values) or any(
        f in without_values for f in CONTEXT_FIELDS if "_" in f
    ):
        yield "an unfilled placeholder"
    for step in message["covers"]:
        if given.get(step) != message["phase"]:
            yield f"a block of {step}, which the plan does not give in this phase"
    if CONSEQUENCE.search(without_values) and "formal-demand-under-contract" not in given:
        yield "a demand or a consequence without the formal demand under a contract"
    if walks_away and set(message["covers"]) & COURTING:
        yield "a courting message in a walk-away plan"
    if message["lang"] == "ru" and (
        LATIN.search(without_values) or not CYRILLIC.search(without_values)
    ):
        yield "a Russian message that is not Russian"
    if len(message["text"]) > limit:
        yield f"{len(message['text'])} characters"


def _shown(context: dict) -> list[str]:
    """The context's values as they may appear in a message (in either language)."""
    shown = []
    for lang in ("en", "ru"):
        shown += list(values(context, lang).values())
    return [s.rstrip(".") for s in shown] + shown


def test_every_step_either_has_a_block_or_is_declared_no_message():
    templates = RULEBOOK.messages
    blocks, silent = set(templates.blocks), set(templates.not_messages)
    assert blocks | silent == set(RULEBOOK.steps) and not blocks & silent


def test_a_silent_client_gets_one_letter_filled_from_the_context(client):
    case = {
        "situations": ["client_silent"],
        "stage": "in_progress",
        "prepayment": "partial",
        "client": {"silent_days": 8},
        "context": {
            "client_name": "Anna",
            "freelancer_name": "Igor",
            "project": "Logo",
            "reply_by": "2027-03-15",
        },
    }
    body = checked(client.post(GUIDANCE + "?lang=ru", json=case), GUIDANCE, "POST")
    [letter] = body["messages"]
    assert letter["id"] == "client-now" and letter["to"] == "client" and letter["lang"] == "ru"
    assert letter["covers"] == [
        "keep-reaching-out",
        "ask-if-all-is-well",
        "explain-why-reply-matters",
        "warn-work-suspension",
        "prepayment-not-refundable",
    ]
    assert letter["text"].startswith("Здравствуйте, Anna!")
    assert "15 марта 2027 г." in letter["text"] and letter["text"].endswith("Igor")
    assert letter["subject"] == "По проекту «Logo»"


def test_the_messages_parameter_and_the_clients_language(client):
    case = {
        "situations": ["non_payment"],
        "contract": True,
        "payment_state": "overdue",
        "context": {"language": "ru", "amount": 1500, "currency": "EUR"},
    }
    now = checked(client.post(GUIDANCE, json=case), GUIDANCE, "POST")
    assert [m["phase"] for m in now["messages"]] == ["now"]
    assert now["lang"] == "en" and now["messages"][0]["lang"] == "ru"
    assert "1\u00a0500 EUR" in now["messages"][0]["text"]
    every = checked(client.post(GUIDANCE + "?messages=all", json=case), GUIDANCE, "POST")
    assert {m["id"] for m in every["messages"]} == {"client-now", "client-fallback"}
    assert "otherwise" not in every["messages"][0]["text"]
    none = checked(client.post(GUIDANCE + "?messages=false", json=case), GUIDANCE, "POST")
    assert "messages" not in none


def test_without_context_the_neutral_wording_is_used(client):
    body = client.post(GUIDANCE, json={"situations": ["non_payment"]}).get_json()
    [letter] = body["messages"]
    assert letter["text"].startswith("Hello,\n\n") and letter["text"].endswith("Best regards")
    assert "{" not in letter["text"] and letter["subject"] == "About our project"


def test_a_late_work_letter_gives_the_new_date_from_the_context(client):
    case = {
        "situations": ["missed_deadline"],
        "fault": "freelancer",
        "context": {"due_date": "2027-03-01", "new_date": "2027-03-15"},
    }
    texts = {}
    for lang in ("en", "ru"):
        body = checked(client.post(f"{GUIDANCE}?lang={lang}", json=case), GUIDANCE, "POST")
        [letter] = body["messages"]
        assert letter["covers"][0] == "warn-before-deadline-with-new-date"
        texts[lang] = letter["text"]
    assert "by 1 March 2027. The new date I can keep is 15 March 2027." in texts["en"]
    assert "к 1 марта 2027 г. работа готова не будет" in texts["ru"]
    assert "Новый срок, который я точно выдержу, — 15 марта 2027 г.\n" in texts["ru"]
    assert "today" not in texts["en"] and "сегодня" not in texts["ru"]


@pytest.mark.parametrize(
    "context, field",
    [
        ({"due_date": "2027-02-30"}, "context.due_date"),
        ({"amount": 10.555}, "context.amount"),
        ({"amount": "100"}, "context.amount"),
        ({"currency": "EUR"}, "context.currency"),
        ({"client_name": "Anna\nBcc: x"}, "context.client_name"),
        ({"client_name": "a" * 81}, "context.client_name"),
        ({"language": "de"}, "context.language"),
        ({"budget": 1}, "context.budget"),
        ({"due_date": "2027-03-01", "new_date": "2027-03-01"}, "context.new_date"),
        ({"new_date": "2027-13-01"}, "context.new_date"),
    ],
)
def test_a_bad_context_is_a_precise_422(client, context, field):
    response = client.post(GUIDANCE, json={"situations": ["conflict"], "context": context})
    body = checked(response, GUIDANCE, "POST")
    assert response.status_code == 422 and field in body["errors"]


def _copy(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    return tmp_path / "messages.yaml"


def test_a_new_message_needs_no_code(tmp_path):
    messages = _copy(tmp_path)
    text = messages.read_text(encoding="utf-8")
    new = (
        "  - step: no-mutual-accusations\n    to: client\n"
        '    en: ["Let us keep to the facts, {client_name}.", "Let us keep to the facts."]\n'
        '    ru: ["Давайте держаться фактов.", "Давайте держаться фактов."]\n'
    )
    text = text.replace("blocks:\n", "blocks:\n" + new, 1)
    text = text.replace("  - no-mutual-accusations\n", "", 1)
    messages.write_text(text, encoding="utf-8")
    state = load(tmp_path)
    guidance = state.engine.evaluate(
        state.schema.load({"situations": ["conflict"], "context": {"client_name": "Anna"}}),
        questions=False,
    )
    [letter] = render_guidance(guidance, "en", 0)["messages"]
    assert "no-mutual-accusations" in letter["covers"]
    assert "Let us keep to the facts, Anna." in letter["text"]


@pytest.mark.parametrize(
    "block, problem",
    [
        (
            '  - step: sue-the-client\n    to: client\n    en: ["x"]\n    ru: ["x"]\n',
            "block 'sue-the-client': unknown step",
        ),
        (
            '  - step: keep-tone-professional\n    to: client\n    en: ["Hi {budget}", "Hi"]\n'
            '    ru: ["x"]\n',
            "block 'keep-tone-professional': en: placeholders the context does not "
            "define: ['budget']",
        ),
        (
            '  - step: keep-tone-professional\n    to: client\n    en: ["Hi {client_name}"]\n'
            '    ru: ["x"]\n',
            "the last variant must have no placeholder",
        ),
    ],
)
def test_a_broken_template_is_refused_naming_the_file_and_the_block(tmp_path, block, problem):
    messages = _copy(tmp_path)
    text = messages.read_text(encoding="utf-8").replace("blocks:\n", "blocks:\n" + block, 1)
    messages.write_text(text.replace("  - keep-tone-professional\n", "", 1), encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_rulebook(tmp_path)
    assert str(messages) in str(error.value) and problem in str(error.value)


def test_values_are_inserted_once_as_text():
    case = {
        "situations": ["non_payment"],
        "context": {"client_name": "{amount} <script>", "amount": 10},
    }
    state = load(None)
    guidance = state.engine.evaluate(state.schema.load(case), questions=False)
    [letter] = render_guidance(guidance, "en", 0)["messages"]
    assert letter["text"].startswith("Hello {amount} <script>,")
    assert PLACEHOLDER.findall(letter["text"]) == ["amount"]  # only the value's own braces


def test_roubles_take_their_sign_in_a_russian_letter_and_their_code_in_english():
    context = {"amount": 45000, "currency": "RUB"}
    assert values(context, "ru")["amount"] == "45\u00a0000 ₽"
    assert values(context, "en")["amount"] == "45,000 RUB"
    assert values({"amount": 1200.5, "currency": "USD"}, "ru")["amount"] == "1\u00a0200,50 USD"
