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


def test_russian_reasons_name_day_counts_without_a_clipped_plural(state):
    cases = [
        {"situations": ["non_payment"], "overdue_days": 12},
        {
            "situations": ["non_payment"],
            "overdue_days": 45,
            "amount_worth_claiming": True,
            "contract": True,
        },
        {
            "situations": ["client_silent"],
            "stage": "in_progress",
            "client": {"silent_days": 14, "contact_attempts": 3},
        },
        {
            "situations": ["client_silent"],
            "stage": "delivered",
            "platform": {"escrow": True},
            "client": {"silent_days": 21},
        },
    ]
    for case in cases:
        reasons = [
            because["reason"]
            for step in _answer(state, case, "ru")["steps"]
            for because in step["because"]
        ]
        days = [r for r in reasons if re.search(r"\d", r)]
        assert days, case
        for reason in days:
            assert not re.search(r"\d+ дн\.|попыток —", reason), reason


def test_the_scope_letter_claims_no_revision_count_and_says_new_requests_once(state):
    case = {"situations": ["scope_creep"], "evidence": {"written_agreements": True}}
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "revisions" not in en and "правок" not in ru
    assert en.lower().count("new requests") <= 1
    assert ru.lower().count("новые пожелания") <= 1


def test_the_client_side_delay_letter_reads_no_template_alternatives(state):
    case = {"situations": ["missed_deadline"], "fault": "client"}
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "materials, answers or approvals" not in en
    assert "материалы, ответы или согласования" not in ru


def test_an_admission_with_a_shared_fault_does_not_concede_the_whole_fault(state):
    case = {"situations": ["conflict"], "fault": "shared"}
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "Part of this is on me" in en and "my mistake" not in en
    assert "I made a mistake" not in en
    assert "Часть проблемы — на мне" in ru and "свою ошибку" not in ru
    assert "с моей стороны была ошибка" not in ru


def test_the_correspondence_is_saved_before_anything_goes_to_the_platform_or_provider(state):
    cases = [
        {"situations": ["payment_reversed"], "stage": "delivered"},
        {"situations": ["non_payment"], "contract": True, "overdue_days": 45},
        {"situations": ["review_threat"]},
        {"situations": ["non_payment"], "client": {"fraud_signals": True}},
    ]
    for case in cases:
        steps = [s for s in _answer(state, case, "en")["steps"] if s["phase"] == "now"]
        ids = [s["id"] for s in steps]
        before = steps[: ids.index("archive-correspondence")]
        assert not any(s["category"] == "escalate" for s in before), (case, ids)
        platform = {b.step for b in state.rulebook.messages.blocks.values() if b.to == "platform"}
        assert not any(s["id"] in platform for s in before), (case, ids)


def test_the_deemed_acceptance_letter_gives_the_date_the_acceptance_period_ends(state):
    case = {
        "situations": ["client_silent"],
        "stage": "delivered",
        "acceptance_period": True,
        "context": {"reply_by": "2027-03-11"},
    }
    assert "acceptance period ends on 11 March 2027" in _letter(state, case, "en", "client-now")
    assert "срок приёмки истекает 11 марта 2027 г." in _letter(state, case, "ru", "client-now")


def test_platform_letters_restate_the_amount_and_the_due_date(state):
    context = {"amount": 45000, "currency": "RUB", "due_date": "2027-03-01", "project": "Logo"}
    unpaid = {"situations": ["non_payment"], "payment_state": "overdue"}
    case = {**unpaid, "platform": {"escrow": True}, "context": context}
    en = _letter(state, case, "en", "platform-fallback")
    ru = _letter(state, case, "ru", "platform-fallback")
    assert "45,000 RUB" in en and "1 March 2027" in en
    assert "45\u00a0000 ₽" in ru and "1 марта 2027 г." in ru
    reversed_ = {"situations": ["payment_reversed"], "stage": "delivered", "context": context}
    assert "45,000 RUB" in _letter(state, reversed_, "en", "platform-now")
    assert "45\u00a0000 ₽" in _letter(state, reversed_, "ru", "platform-now")


def test_the_acceptance_period_lesson_does_not_assume_a_contract(state):
    case = {"situations": ["client_silent"], "stage": "delivered", "contract": False}
    for lang, next_time, without in (
        ("en", "Next time", "without one"),
        ("ru", "В следующий раз", "без договора"),
    ):
        [step] = [
            s
            for s in _answer(state, case, lang)["steps"]
            if s["id"] == "acceptance-period-in-contract"
        ]
        assert step["phase"] == "next_time" and step["title"].startswith(next_time)
        assert without in step["detail"]


def test_platform_letters_quote_the_project_and_read_no_template_alternatives(state):
    context = {"project": "Product descriptions"}
    threat = {"situations": ["review_threat"], "context": context}
    fraud = {"situations": ["non_payment"], "client": {"fraud_signals": True}, "context": context}
    for case in (threat, fraud):
        en = _letter(state, case, "en", "platform-now")
        ru = _letter(state, case, "ru", "platform-now")
        assert "the project “Product descriptions”" in en
        for text in (en, ru):
            assert "(…)" not in text and "free work or a refund" not in text
            assert "бесплатную работу или возврат" not in text


def test_the_chargeback_letter_names_the_amount_and_the_date(state):
    case = {
        "situations": ["payment_reversed"],
        "stage": "delivered",
        "context": {"amount": 900, "currency": "EUR", "reply_by": "2026-12-12"},
    }
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "900 EUR" in en and "by 12 December 2026" in en
    assert "900 EUR" in ru and "до 12 декабря 2026 г." in ru


def test_reaching_the_decision_maker_is_offered_as_help(state):
    case = {"situations": ["missing_information"], "client": {"intermediary": True}}
    assert "If it helps" in _letter(state, case, "en", "client-now")
    assert "Если удобно" in _letter(state, case, "ru", "client-now")


def test_the_platform_fallback_letter_names_the_platform_without_the_project(state):
    case = {
        "situations": ["client_silent"],
        "stage": "in_progress",
        "platform": {"escrow": True},
        "client": {"silent_days": 9},
        "context": {"platform_name": "Kwork"},
    }
    assert "through Kwork" in _letter(state, case, "en", "client-fallback")
    assert "через Kwork" in _letter(state, case, "ru", "client-fallback")


def test_a_fake_payment_before_delivery_claims_no_delivery(state):
    case = {
        "situations": ["payment_reversed", "new_client"],
        "contract": False,
        "client": {"fraud_signals": True},
        "deliverables": {"protected": True},
        "context": {"amount": 15000, "currency": "RUB", "project": "Logo"},
    }
    en = _letter(state, case, "en", "platform-now")
    ru = _letter(state, case, "ru", "platform-now")
    assert "delivered as agreed" not in en and "proof of delivery" not in en
    assert "has not been handed over" in en
    assert "сдана, как договаривались" not in ru and "доказательства сдачи" not in ru
    assert "работа ещё не передана" in ru


def test_what_is_held_until_payment_is_not_promised_as_if_it_existed(state):
    case = {
        "situations": ["non_payment"],
        "stage": "delivered",
        "overdue_days": 25,
        "deliverables": {"protected": False},
    }
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "the remaining access and the source files" not in en
    assert "Whatever of the work is still with me" in en
    assert "Оставшиеся доступы и исходные файлы" not in ru
    assert "Всё, что по проекту ещё остаётся у меня" in ru


def test_the_formal_demand_gives_the_reply_by_date_when_known(state):
    case = {
        "situations": ["non_payment"],
        "contract": True,
        "payment_state": "overdue",
        "overdue_days": 75,
        "amount_worth_claiming": True,
        "context": {"amount": 2400, "currency": "GBP", "reply_by": "2026-12-11"},
    }
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "pay it by 11 December 2026" in en and "seven days" not in en
    assert "оплатить её до 11 декабря 2026 г." in ru and "семи дней" not in ru


def test_letters_carry_no_notes_meant_for_the_freelancer(state):
    cases = [
        {"situations": ["payment_reversed"], "stage": "delivered"},
        {"situations": ["non_payment"], "payment_state": "overdue", "platform": {"escrow": True}},
        {"situations": ["client_silent"], "stage": "delivered", "platform": {"escrow": True}},
    ]
    for case in cases:
        for lang in ("en", "ru"):
            for message in _answer(state, case, lang)["messages"]:
                text = message["text"]
                assert "(files, links, dates)" not in text and "all on the platform" not in text
                assert "(файлы, ссылки, даты)" not in text and "всё велось на площадке" not in text


def test_a_deadline_already_passed_is_told_in_the_past(state):
    context = {"due_date": "2026-11-30", "new_date": "2026-12-04"}
    own = {
        "situations": ["missed_deadline", "conflict"],
        "stage": "in_progress",
        "fault": "freelancer",
        "contract": True,
        "deadline_passed": True,
        "context": context,
    }
    theirs = {**own, "situations": ["missed_deadline"], "fault": "client"}
    for case in (own, theirs):
        en = _letter(state, case, "en", "client-now")
        ru = _letter(state, case, "ru", "client-now")
        assert "was not ready by the agreed deadline, 30 November 2026" in en
        assert "will not be ready" not in en
        assert "К оговорённому сроку — 30 ноября 2026 г. — работа готова не была" in ru
        assert "не успеваю" not in ru and "готова не будет" not in ru
    en = _letter(state, theirs, "en", "client-now")
    ru = _letter(state, theirs, "ru", "client-now")
    assert "Unfortunately" not in en and "sorry" not in en
    assert "К сожалению" not in ru and "извин" not in ru


def test_a_blocked_project_letter_says_once_where_the_work_stands(state):
    case = {
        "situations": ["client_silent"],
        "stage": "in_progress",
        "contract": False,
        "prepayment": "partial",
        "client": {"silent_days": 12, "contact_attempts": 2},
        "information": {"blocking": True, "warning_sent": False},
        "context": {"due_date": "2026-12-20", "reply_by": "2026-12-08"},
    }
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "the deadline of 20 December 2026 moves by the days of waiting" in en
    assert "I will pause" not in en and "has to stop" not in en and "will not be ready" not in en
    assert "срок 20 декабря 2026 г. сдвигается на время ожидания" in ru
    assert "приостановлю" not in ru and "придётся остановить" not in ru
    assert "готова не будет" not in ru


def test_a_shared_fault_letter_names_both_parts_instead_of_a_full_apology(state):
    case = {
        "situations": ["dissatisfaction"],
        "stage": "delivered",
        "fault": "shared",
        "contract": True,
        "evidence": {"written_agreements": True},
        "context": {"reply_by": "2026-12-09"},
    }
    en = _letter(state, case, "en", "client-now")
    ru = _letter(state, case, "ru", "client-now")
    assert "I made a mistake" not in en and "I will send them" not in en
    assert "Part of this is on me" in en and "at no charge by 9 December 2026" in en
    assert "The other part comes from what changed after we had agreed" in en
    assert "с моей стороны была ошибка" not in ru and "пришлю их вам" not in ru
    assert "Часть проблемы — на мне" in ru and "бесплатно до 9 декабря 2026 г." in ru
    assert "Другая часть связана с тем, что изменилось" in ru
