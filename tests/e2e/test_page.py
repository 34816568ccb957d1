"""The page in a real browser (headless Chromium) against the real server (gunicorn).

What the page is for: a person who has never seen the API reaches the advice for
"the client has been silent for two weeks and I took a prepayment" in either language.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import CONTEXT, fill_context, fill_silent_case
from tests.support.server import Server

pytestmark = pytest.mark.server

SILENT_CASE = {
    "situations": ["client_silent"],
    "prepayment": "partial",
    "client": {"silent_days": 14},
}
SILENT_ADVICE = {
    "keep-reaching-out",
    "explain-why-reply-matters",
    "ask-if-all-is-well",
    "keep-tone-professional",
    "prepayment-not-refundable",
    "set-communication-schedule",
}


def api(server, case: dict, lang: str = "en") -> dict:
    request = urllib.request.Request(
        f"{server.url}/v1/guidance?lang={lang}",
        data=json.dumps(case).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_silent_client_with_prepayment_in_english(page, server, artifacts):
    page.open("/?lang=en")
    assert page.find("#evaluate").text == "Get advice"
    fill_silent_case(page)

    expected = api(server, SILENT_CASE, "en")
    steps = page.steps()
    assert [s["id"] for s in steps] == [s["id"] for s in expected["steps"]]
    assert SILENT_ADVICE <= {s["id"] for s in steps}
    assert [s["title"] for s in steps] == [s["title"] for s in expected["steps"]]
    for step in steps:
        assert step["rules"], f"{step['id']} shows no reason"
        assert step["because"].startswith("Why:")
    refund = next(s for s in steps if s["id"] == "prepayment-not-refundable")
    assert refund["rules"] == ["silent-keep-prepayment"]
    reason = next(s for s in expected["steps"] if s["id"] == "prepayment-not-refundable")
    assert refund["because"] == "Why: " + reason["because"][0]["reason"]
    assert "silent-keep-prepayment" not in refund["because"]  # the id is for integrators
    # The live region sums the advice up.
    assert page.find("#result-status").get_attribute("aria-live") == "polite"
    assert page.status().startswith(f"{len(steps)} steps")
    # The follow-up questions are the API's, in its order, as buttons.
    assert list(page.questions()) == [q["field"] for q in expected["questions"]]
    assert page.browser_errors() == []
    page.screenshot(artifacts / "page-silent-client-en.png")


def test_a_follow_up_answer_fills_the_fact_and_changes_the_steps(page):
    page.open("/?lang=en")
    fill_silent_case(page)
    before_ids = page.step_ids()
    assert "warn-work-suspension" not in before_ids
    assert "in_progress" in page.questions()["stage"]

    revision = page.revision
    page.answer("stage", "in_progress")
    page.wait_for_result(revision)

    steps = page.steps()
    added = [s for s in steps if s["id"] not in before_ids]
    assert [s["id"] for s in added] == ["warn-work-suspension"]
    assert added[0]["new"] and all(not s["new"] for s in steps if s["id"] in before_ids)
    assert "stage" not in page.questions()
    # The answer went into the form, so the case now says so.
    assert page.find('.field[data-fact="stage"] select').get_attribute("value") == "in_progress"
    assert json.loads(page.find("#case-json").get_attribute("value"))["stage"] == "in_progress"
    assert "New: " in page.status()
    # Focus stays in the result, on the questions, for the next answer.
    assert page.driver.switch_to.active_element.get_attribute("id") == "questions-heading"

    # A number question: the answer's value is put into the number box as given. At most
    # five questions are listed: answer "no" to the yes/no ones before it until it is asked.
    for _ in range(6):
        questions = page.questions()
        if "client.contact_attempts" in questions:
            break
        field = next(f for f, values in questions.items() if False in values)
        revision = page.revision
        page.answer(field, False)
        page.wait_for_result(revision)
    revision = page.revision
    options = page.questions()["client.contact_attempts"]
    page.answer("client.contact_attempts", options[-1])
    page.wait_for_result(revision)
    assert "check-reachability" in page.step_ids()
    box = page.find('.field[data-fact="client.contact_attempts"] input')
    assert box.get_attribute("value") == str(options[-1])


def test_switching_to_russian_translates_the_page_and_the_advice(page, server, artifacts):
    page.open("/?lang=en")
    fill_silent_case(page)
    revision = page.revision
    page.switch_language("ru")
    page.wait_for_result(revision, lang="ru")

    expected = api(server, SILENT_CASE, "ru")
    assert [s["title"] for s in page.steps()] == [s["title"] for s in expected["steps"]]
    assert page.find("html").get_attribute("lang") == "ru"
    assert page.find('[data-lang-switch="ru"]').get_attribute("aria-pressed") == "true"
    assert page.find("#evaluate").text == "Получить советы"
    assert page.find("#result-heading").text == "Советы"
    assert page.steps()[0]["badge"].endswith("СДЕЛАТЬ")
    assert page.steps()[0]["because"].startswith("Почему:")
    # The form is rebuilt in Russian with the answers kept.
    label = page.find('input[name="situations"][value="client_silent"]').find_element("xpath", "..")
    assert label.text == "Клиент пропал"
    assert page.find('input[name="situations"][value="client_silent"]').is_selected()
    assert page.find('.field[data-fact="prepayment"] select').get_attribute("value") == "partial"
    assert page.find('.field[data-fact="client.silent_days"] input').get_attribute("value") == "14"
    assert page.find('.field[data-fact="prepayment"] label').text == "Была ли предоплата?"
    # The questions are in Russian, the summary has Russian plurals.
    assert expected["questions"][0]["question"] in page.find("li.question").text
    assert "шаг" in page.status()
    # No English word of the page's own is left visible.
    visible = page.find("body").text
    for english in (
        "Get advice",
        "Your case",
        "Follow-up questions",
        "Why:",
        "Don't know",
        "For integrators",
        "Copy as curl",
    ):
        assert english not in visible
    assert page.browser_errors() == []
    page.screenshot(artifacts / "page-silent-client-ru.png")


def test_silent_client_with_prepayment_in_russian_from_the_start(page, server, artifacts):
    page.open("/?lang=ru")
    assert page.find("#evaluate").text == "Получить советы"
    fill_silent_case(page)
    expected = api(server, SILENT_CASE, "ru")
    assert page.step_ids() == [s["id"] for s in expected["steps"]]
    assert SILENT_ADVICE <= set(page.step_ids())
    refund = next(s for s in page.steps() if s["id"] == "prepayment-not-refundable")
    assert refund["title"] == next(
        s["title"] for s in expected["steps"] if s["id"] == "prepayment-not-refundable"
    )
    reason = next(s for s in expected["steps"] if s["id"] == "prepayment-not-refundable")
    assert refund["because"] == "Почему: " + reason["because"][0]["reason"]


def test_do_and_avoid_steps_look_different(page):
    page.open("/?lang=en")
    page.tick_situation("conflict")
    page.choose("contract", False)
    page.tick_situation("non_payment")
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    steps = page.steps()
    kinds = {s["kind"] for s in steps}
    assert kinds == {"do", "avoid"}
    avoid = next(s for s in steps if s["kind"] == "avoid")
    do = next(s for s in steps if s["kind"] == "do")
    assert "step--avoid" in avoid["classes"] and avoid["badge"].endswith("AVOID")
    assert "step--do" in do["classes"] and do["badge"].endswith("DO")
    style = page.driver.execute_script(
        "const [a, d] = [document.querySelector('.step--avoid'), document.querySelector('.step--do')];"  # noqa: E501
        "const s = e => getComputedStyle(e);"
        "return [s(a).backgroundColor, s(d).backgroundColor, s(a).borderLeftColor, s(d).borderLeftColor];"  # noqa: E501
    )
    assert style[0] != style[1] and style[2] != style[3]
    assert "no-threats-without-contract" in page.step_ids()


def test_the_form_checks_what_it_can_before_asking(page):
    page.open("/?lang=en")
    page.submit()
    assert page.status() == "Pick at least one situation."
    assert (
        page.fact("situations").find_element("css selector", ".field-error").text
        == "Pick at least one situation."
    )
    active = page.driver.switch_to.active_element
    assert active.get_attribute("name") == "situations"
    assert page.find("#result-body").get_attribute("data-state") == "empty"

    page.tick_situation("client_silent")
    page.type_number("client.silent_days", 99999)
    page.submit()
    error = page.fact("client.silent_days").find_element("css selector", ".field-error")
    assert error.text == "Enter a whole number from 0 to 3650, or leave it empty."
    box = page.fact("client.silent_days").find_element("css selector", "input")
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("min") == "0" and box.get_attribute("max") == "3650"

    page.type_number("client.silent_days", "")
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    assert "client" not in json.loads(page.find("#case-json").get_attribute("value"))


def test_unknown_is_not_sent(page):
    page.open("/?lang=en")
    page.tick_situation("non_payment")
    page.choose("contract", True)
    page.choose("contract", None)  # back to "Don't know"
    page.choose("payment_state", "overdue")
    sent = json.loads(page.find("#case-json").get_attribute("value"))
    assert sent == {"situations": ["non_payment"], "payment_state": "overdue"}


def test_every_fact_of_the_service_has_a_matching_control(page, server):
    with urllib.request.urlopen(f"{server.url}/v1/rules?lang=en", timeout=10) as response:
        facts = json.load(response)["facts"]
    page.open("/?lang=en")
    for fact in facts:
        field = page.fact(fact["name"])
        kind = fact["type"]
        if kind == "list":
            boxes = field.find_elements("css selector", "input[type=checkbox]")
            assert [b.get_attribute("value") for b in boxes] == fact["values"]
        elif kind == "boolean":
            radios = field.find_elements("css selector", "input[type=radio]")
            assert [r.get_attribute("value") for r in radios] == ["true", "false", ""]
            assert radios[2].is_selected(), "unknown is the default"
        elif kind == "enum":
            options = field.find_elements("css selector", "select option")
            # One "don't know" per control: an enumeration's own `unknown` value is the
            # select's empty choice, in the fact's words.
            values = [v for v in fact["values"] if v != "unknown"]
            assert [o.get_attribute("value") for o in options] == ["", *values]
            if "unknown" in fact["values"]:
                assert options[0].text == fact["labels"]["unknown"]
        elif kind == "integer":
            box = field.find_element("css selector", "input[type=number]")
            assert box.get_attribute("min") == str(fact["min"])
            assert box.get_attribute("max") == str(fact["max"])
        if fact.get("question"):
            assert fact["question"] in field.text


def test_every_control_has_a_label_and_the_result_is_a_live_region(page):
    page.open("/?lang=en")
    fill_silent_case(page)
    unlabeled = page.driver.execute_script("""
        const missing = [];
        for (const c of document.querySelectorAll('input, select, textarea, button')) {
          const named = c.labels && c.labels.length && c.labels[0].textContent.trim()
            || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')
            || (c.tagName === 'BUTTON' && c.textContent.trim());
          if (!named) missing.push(c.outerHTML.slice(0, 120));
        }
        for (const f of document.querySelectorAll('fieldset')) {
          const legend = f.querySelector(':scope > legend');
          if (!legend || !legend.textContent.trim()) missing.push(f.outerHTML.slice(0, 120));
        }
        return missing;""")
    assert unlabeled == []
    live = page.find("#result-status")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    # Each question's answers: a list (so no role on the <ul>) inside a named group.
    assert page.find_all("ul.options")
    for answers in page.find_all("ul.options"):
        assert answers.get_attribute("role") is None
        group = answers.find_element("xpath", "..")
        assert group.get_attribute("role") == "group"
        labelled_by = group.get_attribute("aria-labelledby")
        assert page.find(f"#{labelled_by}").text


def test_keyboard_only(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.open("/?lang=en")
    actions = page.driver.switch_to

    def tab():
        ActionChains(page.driver).send_keys(Keys.TAB).perform()
        return actions.active_element

    # The order: skip link, the language, then the form from its first situation.
    assert tab().get_attribute("class") == "skip-link"
    assert tab().get_attribute("data-lang-switch") == "en"
    assert tab().get_attribute("data-lang-switch") == "ru"
    first = tab()
    assert (first.get_attribute("name"), first.get_attribute("value")) == ("situations", "conflict")
    silent = tab()
    assert silent.get_attribute("value") == "client_silent"
    silent.send_keys(Keys.SPACE)
    assert silent.is_selected()
    # The number box: typing and Enter asks for the advice, and focus moves to it.
    before = page.revision
    page.type_number("client.silent_days", 14, enter=True)
    page.wait_for_result(before)
    assert actions.active_element.get_attribute("id") == "result"
    assert "keep-reaching-out" in page.step_ids()
    # From the result, Tab reaches the first answer button; Enter answers it.
    button = tab()
    assert "option" in button.get_attribute("class").split()
    field = button.get_attribute("data-field")
    before = page.revision
    button.send_keys(Keys.ENTER)
    page.wait_for_result(before)
    assert field not in page.questions()


def test_copy_as_curl_and_json_give_the_same_case(page, server):
    page.open("/?lang=en")
    fill_silent_case(page)
    sent = json.loads(page.find("#case-json").get_attribute("value"))
    assert sent == SILENT_CASE
    curl = page.find("#case-curl").get_attribute("value")
    assert curl.startswith(f"curl -sS -X POST '{server.url}/v1/guidance?lang=en'")
    assert "Content-Type: application/json" in curl

    for button in ("#copy-json", "#copy-curl"):
        page.driver.execute_script("document.querySelector('#copy-status').textContent = ''")
        page.click(page.find(button))
        page.wait_for(lambda d: page.find("#copy-status").text, f"{button} to say how it went")
        assert page.find("#copy-status").text == "Copied."

    if shutil.which("curl"):
        # The copied command, run as an integrator would, gives the advice on the page.
        out = subprocess.run(
            ["bash", "-c", curl],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        ).stdout  # no proxy
        assert [s["id"] for s in json.loads(out)["steps"]] == page.step_ids()


def test_a_case_in_the_address_opens_filled_in(page):
    page.open("/?lang=en")
    fill_silent_case(page)
    url = page.driver.current_url
    assert "#case=" in url
    page.driver.get(page.base_url + "/healthz")
    page.open(url[len(page.base_url) :])
    page.wait_for_result(0)
    assert SILENT_ADVICE <= set(page.step_ids())
    assert page.find('input[name="situations"][value="client_silent"]').is_selected()


def test_embed_mode_has_no_header_or_footer(page, artifacts):
    page.open("/?embed=1&lang=ru")
    assert page.find_all("header") == [] and page.find_all("footer") == []
    assert page.find_all("#case-form") and page.find_all("#result")
    assert page.find('[data-lang-switch="en"]').is_displayed()
    fill_silent_case(page)
    assert SILENT_ADVICE <= set(page.step_ids())
    page.screenshot(artifacts / "page-embed-ru.png")


def test_nothing_is_loaded_from_elsewhere(page, server):
    page.open("/?lang=en")
    fill_silent_case(page)
    urls = page.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"
    )
    assert urls and all(u.startswith(server.url + "/") for u in urls), urls
    assert page.browser_errors() == []


NEW_FACTS = """
  - name: client.abroad
    type: boolean
    description: The client is in another country.
    question:
      en: "Is the client in another country?"
      ru: "Клиент находится в другой стране?"
    labels:
      "yes": {en: "Yes, abroad", ru: "Да, за границей"}
      "no": {en: "No", ru: "Нет"}

  - name: project.budget_band
    type: enum
    values: [small, large]
    description: How big the project is.
    question:
      en: "How big is the project?"
      ru: "Насколько крупный проект?"
    labels:
      small: {en: Small, ru: Небольшой}
      large: {en: Large, ru: Крупный}

  - name: project.weeks_late
    type: integer
    min: 0
    max: 52
    description: How many weeks the project is late.
    question:
      en: "How many weeks late is the project?"
      ru: "На сколько недель проект опаздывает?"
"""


def test_a_new_fact_in_the_rules_appears_on_the_page_with_no_change_to_it(page, server, tmp_path):
    rules = Path(__file__).resolve().parents[2] / "rules"
    shutil.copytree(rules, tmp_path / "rules")
    facts = tmp_path / "rules" / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    marker = "\nrange_labels:"
    assert marker in text
    facts.write_text(text.replace(marker, NEW_FACTS + marker, 1), encoding="utf-8")

    other = Server(env={"DISPUTE_GUIDE_RULES_DIR": str(tmp_path / "rules")}, workers=1)
    other.start()
    try:
        page.base_url = other.url
        page.open("/?lang=en")
        abroad = page.fact("client.abroad")
        assert "Is the client in another country?" in abroad.text
        assert [
            r.get_attribute("value")
            for r in abroad.find_elements("css selector", "input[type=radio]")
        ] == ["true", "false", ""]
        band = page.fact("project.budget_band")
        assert [o.text for o in band.find_elements("css selector", "option")][1:] == [
            "Small",
            "Large",
        ]
        weeks = page.fact("project.weeks_late").find_element("css selector", "input")
        assert (weeks.get_attribute("min"), weeks.get_attribute("max")) == ("0", "52")
        # A new group gets a heading of its own even though the page has no word for it.
        assert page.find('[data-group="project"] legend').text == "Project"

        page.tick_situation("client_silent")
        page.choose("client.abroad", True)
        page.choose("project.budget_band", "large")
        page.type_number("project.weeks_late", 3)
        sent = json.loads(page.find("#case-json").get_attribute("value"))
        assert sent["client"] == {"abroad": True}
        assert sent["project"] == {"budget_band": "large", "weeks_late": 3}
        before = page.revision
        page.submit()
        page.wait_for_result(before)
        assert "keep-reaching-out" in page.step_ids()

        revision = page.revision
        page.switch_language("ru")
        page.wait_for_result(revision, lang="ru")
        assert "Клиент находится в другой стране?" in page.fact("client.abroad").text
    finally:
        other.stop()


def test_a_service_with_api_keys_asks_for_one_and_never_copies_it(page):
    key = "page-test-key-0123456789"
    other = Server(env={"DISPUTE_GUIDE_API_KEYS": key}, workers=1)
    other.start()
    try:
        page.base_url = other.url
        page.driver.get(other.url + "/?lang=en")
        page.wait_for(lambda d: page.find("#key-form").is_displayed(), "the key prompt")
        assert page.driver.switch_to.active_element.get_attribute("id") == "api-key"
        assert page.find('label[for="api-key"]').text == "API key"

        page.find("#api-key").send_keys("wrong\n")
        page.wait_for(lambda d: page.find("#key-error").is_displayed(), "the key to be refused")
        assert "did not accept" in page.find("#key-error").text

        page.find("#api-key").send_keys(key + "\n")
        page.wait_for(
            lambda d: page.find("body").get_attribute("data-ready") == "true",
            "the form to be built",
        )
        assert not page.find("#key-form").is_displayed()
        fill_silent_case(page)
        assert SILENT_ADVICE <= set(page.step_ids())

        curl = page.find("#case-curl").get_attribute("value")
        assert key not in curl
        assert '-H "Authorization: Bearer $DISPUTE_GUIDE_API_KEY"' in curl
        if shutil.which("curl"):
            out = subprocess.run(
                ["bash", "-c", curl],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
                env={"PATH": "/usr/bin:/bin", "DISPUTE_GUIDE_API_KEY": key},
            )
            assert [s["id"] for s in json.loads(out.stdout)["steps"]] == page.step_ids()
    finally:
        other.stop()


PHASE_TITLES = {
    "en": {"now": "Now", "fallback": "If that does not work", "next_time": "Next time"},
    "ru": {"now": "Сейчас", "fallback": "Если это не помогло", "next_time": "В следующий раз"},
}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_plan_is_shown_by_phase_with_reason_sentences(page, server, lang):
    expected = api(server, SILENT_CASE, lang)
    page.open(f"/?lang={lang}")
    fill_silent_case(page)
    # One heading per phase, in the answer's order, with that phase's steps under it.
    phases = list(dict.fromkeys(s["phase"] for s in expected["steps"]))
    assert len(phases) > 1
    sections = page.find_all("section.phase")
    assert [s.get_attribute("data-phase") for s in sections] == phases
    for section, phase in zip(sections, phases, strict=False):
        assert (
            section.find_element("css selector", ".phase__title").text.lower()
            == PHASE_TITLES[lang][phase].lower()
        )
        assert [
            li.get_attribute("data-step-id")
            for li in section.find_elements("css selector", "li.step")
        ] == [s["id"] for s in expected["steps"] if s["phase"] == phase]
    # Each reason is the answer's sentence; the rule id stays in the markup only.
    for step, shown in zip(expected["steps"], page.steps(), strict=False):
        assert shown["rules"] == [b["rule"] for b in step["because"]]
        sentences = [
            li.text for li in page.find_all(f'li.step[data-step-id="{step["id"]}"] .because > li')
        ]
        assert sentences == [b["reason"] for b in step["because"]]
        for b in step["because"]:
            assert b["rule"] not in shown["because"]


def source_labels(page) -> dict[str, str]:
    return {
        li.get_attribute("data-step-id"): li.find_element("css selector", ".step__source").text
        for li in page.find_all("ol.steps > li.step")
    }


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_new_situation_and_its_new_question_change_the_steps(page, server, lang):
    # A payment reversed (a chargeback), the stage not given: a situation from common
    # practice, answered with the payment's records (no delivery is claimed while the stage
    # is unknown), and its question on whether the rights pass only on full payment.
    page.open(f"/?lang={lang}")
    label = page.find('input[name="situations"][value="payment_reversed"]').find_element(
        "xpath", ".."
    )
    assert label.text and label.text != "payment_reversed"
    page.tick_situation("payment_reversed")
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    case = {"situations": ["payment_reversed"]}
    expected = api(server, case, lang)
    assert page.step_ids() == [s["id"] for s in expected["steps"]]
    assert "answer-payment-dispute-with-records" in page.step_ids()
    # Answering that the work was delivered turns the answer into one with the delivery's proof.
    revision = page.revision
    page.answer("stage", "delivered")
    page.wait_for_result(revision)
    case = {**case, "stage": "delivered"}
    expected = api(server, case, lang)
    assert page.step_ids() == [s["id"] for s in expected["steps"]]
    assert "answer-payment-dispute-with-proof" in page.step_ids()
    assert "answer-payment-dispute-with-records" not in page.step_ids()
    assert "rights-stay-until-paid" not in page.step_ids()
    # Each step says discreetly where it comes from, in the answer's words.
    assert source_labels(page) == {s["id"]: s["source_label"] for s in expected["steps"]}
    assert {s["source"] for s in expected["steps"]} == {"article", "practice"}
    practice = page.find('li.step[data-step-id="answer-payment-dispute-with-proof"] .step__source')
    assert practice.get_attribute("data-source") == "practice"

    question = next(q for q in expected["questions"] if q["field"] == "rights_on_full_payment")
    assert (
        question["question"] in page.find('li.question[data-field="rights_on_full_payment"]').text
    )
    revision = page.revision
    page.answer("rights_on_full_payment", True)
    page.wait_for_result(revision)
    assert "rights-stay-until-paid" in page.step_ids()
    answered = api(server, {**case, "rights_on_full_payment": True}, lang)
    assert page.step_ids() == [s["id"] for s in answered["steps"]]
    assert source_labels(page)["rights-stay-until-paid"] == next(
        s["source_label"] for s in answered["steps"] if s["id"] == "rights-stay-until-paid"
    )
    assert page.find('.field[data-fact="rights_on_full_payment"] input[value="true"]').is_selected()
    assert page.browser_errors() == []


def test_scope_creep_with_the_scope_in_writing(page):
    page.open("/?lang=en")
    page.tick_situation("scope_creep")
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    assert "fix-scope-in-writing-now" in page.step_ids()
    revision = page.revision
    page.answer("evidence.written_agreements", True)
    page.wait_for_result(revision)
    ids = page.step_ids()
    assert "point-to-agreed-scope" in ids and "fix-scope-in-writing-now" not in ids
    assert {"quote-extras-as-paid-changes", "no-unpaid-extra-work"} <= set(ids)


# --- ready-to-send messages and their context ----------------------------------------


def grant_clipboard(page) -> None:
    page.driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": page.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )


def read_clipboard(page) -> str:
    return page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        navigator.clipboard.readText().then(done, e => done('clipboard error: ' + e));""")


def message(page, message_id: str):
    return page.find(f'li.message[data-message-id="{message_id}"]')


@pytest.mark.parametrize("page_lang,letter_lang", [("en", None), ("ru", None), ("en", "ru")])
def test_the_silent_client_message_is_filled_in_and_copied(page, server, page_lang, letter_lang):
    grant_clipboard(page)
    page.open(f"/?lang={page_lang}")
    context = {**CONTEXT, **({"language": letter_lang} if letter_lang else {})}
    fill_context(page, context)
    fill_silent_case(page)
    sent = json.loads(page.find("#case-json").get_attribute("value"))
    assert sent["context"] == context
    expected = api(server, {**SILENT_CASE, "context": context}, page_lang)
    letter = next(m for m in expected["messages"] if m["id"] == "client-now")
    lang = letter_lang or page_lang
    assert letter["lang"] == lang

    item = message(page, "client-now")
    assert item.get_attribute("lang") == lang
    assert item.get_attribute("data-to") == "client"
    assert item.get_attribute("data-covers").split() == letter["covers"]
    box = item.find_element("css selector", "textarea.message__text")
    subject = item.find_element("css selector", "input.message__subject")
    assert box.get_attribute("value") == letter["text"]
    assert subject.get_attribute("value") == letter["subject"]
    assert item.find_element("css selector", ".message__purpose").text == letter["purpose"]
    # The name went in as text: its angle brackets are characters, not markup.
    assert "Anna <b>Lee</b>" in box.get_attribute("value")
    assert page.find_all("#result b") == []

    page.click(item.find_element("css selector", "button.message__copy"))
    status = item.find_element("css selector", ".copy-status")
    page.wait_for(lambda d: status.text, "the copy to say how it went")
    assert status.text in ("Copied.", "Скопировано.")
    pasted = read_clipboard(page)
    assert pasted == letter["text"]
    assert "Anna <b>Lee</b>" in pasted and "Igor" in pasted
    assert "{" not in pasted and "}" not in pasted
    assert ("Здравствуйте" in pasted) == (lang == "ru")
    assert page.browser_errors() == []


def test_an_edited_message_is_copied_as_edited_and_the_context_is_kept_in_the_address(page):
    grant_clipboard(page)
    page.open("/?lang=en")
    fill_context(page, {"client_name": "Anna", "amount": "1500", "currency": "eur"})
    # The currency is shown as it is sent: in capitals.
    assert page.find('[data-context="currency"]').get_attribute("value") == "EUR"
    fill_silent_case(page)
    box = message(page, "client-now").find_element("css selector", "textarea")
    box.send_keys(" P.S. Thank you!")
    page.click(message(page, "client-now").find_element("css selector", "button.message__copy"))
    page.wait_for(lambda d: read_clipboard(page).endswith("P.S. Thank you!"), "the edited text")

    url = page.driver.current_url
    body = json.loads(urllib.parse.unquote(url.split("#case=", 1)[1]))
    assert body["context"] == {"client_name": "Anna", "amount": 1500, "currency": "EUR"}
    page.driver.get(page.base_url + "/healthz")
    page.open(url[len(page.base_url) :])
    page.wait_for_result(0)
    assert page.find("#context").get_attribute("open") is not None
    assert page.find('[data-context="client_name"]').get_attribute("value") == "Anna"
    assert "Hello Anna," in message(page, "client-now").find_element(
        "css selector", "textarea"
    ).get_attribute("value")


def test_the_context_is_checked_before_asking(page):
    page.open("/?lang=en")
    page.tick_situation("client_silent")
    fill_context(page, {"currency": "EU"})
    page.submit()
    error = page.find('.field[data-fact="context.currency"] .field-error')
    assert error.text.startswith("Enter a three-letter currency code")
    fill_context(page, {"currency": "EUR"})
    page.submit()
    assert error.text.startswith("A currency needs an amount")
    fill_context(page, {"amount": "12.345"})
    page.submit()
    assert page.find('.field[data-fact="context.amount"] .field-error').text.startswith(
        "Enter a sum"
    )
    assert page.find("#result-body").get_attribute("data-state") == "empty"
    fill_context(page, {"amount": "12.34"})
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    assert json.loads(page.find("#case-json").get_attribute("value"))["context"] == {
        "amount": 12.34,
        "currency": "EUR",
    }


def test_a_walk_away_plan_has_no_message_that_courts_the_client(page, server):
    case = {"situations": ["client_silent"], "client": {"fraud_signals": True}}
    # Only the report to the platform: nothing goes to the client.
    assert [m["to"] for m in api(server, case, "en")["messages"]] == ["platform"]
    page.open("/?lang=en")
    page.tick_situation("client_silent")
    page.choose("client.fraud_signals", True)
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    assert "stop-dealing-with-fraudster" in page.step_ids()
    letters = page.find_all("li.message")
    assert [letter.get_attribute("data-to") for letter in letters] == ["platform"]
    assert page.find_all('li.message[data-to="client"]') == []


def test_a_plan_with_nothing_to_send_says_so(page, server):
    case = {"situations": ["new_client"]}
    assert api(server, case, "en")["messages"] == []
    page.open("/?lang=en")
    page.tick_situation("new_client")
    before = page.revision
    page.submit()
    page.wait_for_result(before)
    assert page.find_all("li.message") == []
    assert page.find("#no-messages").text == "No message to send for this plan."
