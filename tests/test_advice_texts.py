"""The letters' and steps' wording for cases freelancers reviewed: what rule-file cases
cannot say (they name steps, not words)."""

from __future__ import annotations

import re

from service.core import ALL_MESSAGES, render_guidance


def _answer(state, case: dict, lang: str) -> dict:
    guidance = state.engine.evaluate(state.schema.load(case), questions=False)
    return render_guidance(guidance, lang, 0, ALL_MESSAGES)


def _letter(state, case: dict, lang: str, message_id: str) -> str:
    body = _answer(state, case, lang)
    [letter] = [m for m in body["messages"] if m["id"] == message_id]
    return letter["text"]


def test_the_formal_demand_names_no_interest_or_penalty_the_contract_may_not_set(state):
    case = {
        "situations": ["non_payment"],
        "contract": True,
        "payment_state": "overdue",
        "context": {"amount": 1500, "currency": "EUR", "due_date": "2027-03-01"},
    }
    en = _letter(state, case, "en", "client-fallback")
    ru = _letter(state, case, "ru", "client-fallback")
    assert "Under our contract" in en and "По нашему договору" in ru
    assert not re.search(r"interest|penalt", en, re.IGNORECASE)
    assert not re.search(r"процент|пени|неустойк", ru, re.IGNORECASE)
