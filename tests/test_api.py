"""HTTP API v1 through the Flask test client; every answer is checked against openapi.yaml."""

from __future__ import annotations

import json

import pytest

from tests.support.contract import checked

GUIDANCE = "/v1/guidance"
UNPAID_NO_CONTRACT = {
    "situations": ["non_payment"],
    "stage": "in_progress",
    "contract": False,
    "prepayment": "none",
    "payment_state": "unpaid",
    "deliverables": {"sent": False},
    "evidence": {"correspondence_archived": False},
}


def post(client, body, path=GUIDANCE, **kwargs):
    response = client.post(path, json=body, **kwargs)
    return response, checked(response, path.split("?")[0], "POST")


def ids(body) -> list[str]:
    return [step["id"] for step in body["steps"]]


def test_unpaid_work_without_contract_gets_protection_and_a_warning_against_threats(client):
    response, body = post(client, UNPAID_NO_CONTRACT)
    assert response.status_code == 200
    assert ids(body) == [
        "clarify-payment",
        "send-protected-previews",
        "secure-contract-or-prepayment",
        "archive-correspondence",
        "no-threats-without-contract",
        "firm-reminder-with-date",
    ]
    warning = body["steps"][-2]
    assert warning["kind"] == "avoid" and warning["category"] == "escalate"
    assert [s["phase"] for s in body["steps"]] == ["now"] * 5 + ["fallback"]
    assert [s["source"] for s in body["steps"]] == ["article"] * 5 + ["practice"]
    assert warning["because"] == [
        {
            "rule": "nonpay-no-empty-threats",
            "reason": "You have no signed contract, so legal threats are hard to back.",
            "facts": {"situations": ["non_payment"], "contract": False},
        }
    ]
    assert all(step["because"] and step["title"] and step["detail"] for step in body["steps"])
    assert "formal-demand-under-contract" not in ids(body)


def test_overdue_work_under_contract_allows_a_formal_demand_and_no_warning(client):
    case = {**UNPAID_NO_CONTRACT, "contract": True, "payment_state": "overdue"}
    _, body = post(client, case)
    assert "formal-demand-under-contract" in ids(body)
    assert "no-threats-without-contract" not in ids(body)
    demand = next(s for s in body["steps"] if s["id"] == "formal-demand-under-contract")
    assert demand["because"][0]["facts"]["contract"] is True
    assert demand["because"][0]["facts"]["payment_state"] == "overdue"
    assert ids(body)[-1] == "formal-demand-under-contract"  # escalation after the rest


def test_russian_texts_by_query_parameter(client, state):
    response, body = post(client, UNPAID_NO_CONTRACT, path=GUIDANCE + "?lang=ru")
    assert body["lang"] == "ru" and response.headers["Content-Language"] == "ru"
    first = body["steps"][0]
    assert first["title"] == state.rulebook.steps["clarify-payment"].texts["ru"]["title"]
    assert any("\u0400" <= ch <= "\u04ff" for ch in first["detail"])
    assert body["questions"] == [] or all(q["question"] for q in body["questions"])


def test_russian_texts_by_accept_language(client):
    response, body = post(
        client, UNPAID_NO_CONTRACT, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
    )
    assert body["lang"] == "ru" and response.headers["Content-Language"] == "ru"


def test_unsupported_language_falls_back_to_english_and_says_so(client):
    response, body = post(client, UNPAID_NO_CONTRACT, path=GUIDANCE + "?lang=de")
    assert body["lang"] == "en" and response.headers["Content-Language"] == "en"
    response, body = post(client, UNPAID_NO_CONTRACT, headers={"Accept-Language": "fr"})
    assert body["lang"] == "en" and response.headers["Content-Language"] == "en"


def test_case_id_and_ruleset_version_are_echoed(client, state):
    _, body = post(client, {"case_id": "crm-42", "situations": ["conflict"]})
    assert body["case_id"] == "crm-42"
    assert body["ruleset_version"] == state.version
    assert body["rules_fired"][:1] == ["conflict-de-escalate"]


def test_questions_can_be_skipped(client):
    _, body = post(client, {"situations": ["non_payment"]}, path=GUIDANCE + "?questions=false")
    assert "questions" not in body
    response, body = post(client, {"situations": ["conflict"]}, path=GUIDANCE + "?questions=maybe")
    assert response.status_code == 422 and "questions" in body["errors"]


def test_null_means_unknown(client):
    _, with_nulls = post(
        client,
        {
            "situations": ["non_payment"],
            "contract": None,
            "client": {"silent_days": None},
            "evidence": None,
        },
    )
    _, without = post(client, {"situations": ["non_payment"]})
    assert ids(with_nulls) == ids(without)
    assert with_nulls["questions"] == without["questions"]


@pytest.mark.parametrize(
    "case, path, problem",
    [
        ({"situations": ["non_payment"], "contract": 1}, "contract", "boolean"),
        ({"situations": ["non_payment"], "contract": "true"}, "contract", "boolean"),
        (
            {"situations": ["client_silent"], "client": {"silent_days": "5"}},
            "client.silent_days",
            "integer",
        ),
        (
            {"situations": ["client_silent"], "client": {"silent_days": 5.0}},
            "client.silent_days",
            "integer",
        ),
        (
            {"situations": ["client_silent"], "client": {"silent_days": True}},
            "client.silent_days",
            "integer",
        ),
        (
            {"situations": ["client_silent"], "client": {"silent_days": -1}},
            "client.silent_days",
            "greater than or equal",
        ),
        (
            {"situations": ["client_silent"], "client": {"silent_days": 10**30}},
            "client.silent_days",
            "less than or equal",
        ),
        ({"situations": ["conflict"], "stage": "started"}, "stage", "one of"),
        ({"situations": ["conflict"], "case_id": "x" * 129}, "case_id", "maximum length 128"),
        ({"situations": ["conflict"], "case_id": 42}, "case_id", "string"),
        ({"situations": []}, "situations", "length"),
        ({"situations": ["conflict", "conflict"]}, "situations", "Duplicate"),
        ({"situations": ["war"]}, "situations.0", "one of"),
        ({"situations": "conflict"}, "situations", "list"),
        ({"fault": "client"}, "situations", "required"),
        ({"situations": ["conflict"], "budget": 100}, "budget", "Unknown field"),
        ({"situations": ["conflict"], "client": {"mood": "bad"}}, "client.mood", "Unknown field"),
        ({"situations": ["conflict"], "client": [1]}, "client", "Expected a JSON object"),
        ([{"situations": ["conflict"]}], "$", "Expected a JSON object"),
    ],
)
def test_invalid_case_is_a_422_keyed_by_field_path(client, case, path, problem):
    response, body = post(client, case)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert body["title"] == "Invalid case" and body["status"] == 422
    assert path in body["errors"], body["errors"]
    assert any(problem.lower() in message.lower() for message in body["errors"][path]), body


@pytest.mark.parametrize("number", [b"1e400", b"1.5", b"5.0", b"1e2", b"-0.0"])
def test_non_integral_numbers_are_refused_where_integers_belong(client, number):
    data = b'{"situations": ["client_silent"], "client": {"silent_days": ' + number + b"}}"
    response = client.post(GUIDANCE, data=data, content_type="application/json")
    body = checked(response, GUIDANCE, "POST")
    assert response.status_code == 422
    assert "integer" in body["errors"]["client.silent_days"][0]


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b'{"situations": ["conflict"]', "line 1"),
        (b'{"situations": ["conflict"], "situations": ["non_payment"]}', "Duplicate key"),
        (b'{"situations": ["conflict"], "client": {"silent_days": NaN}}', "NaN"),
        (b'{"situations": ["conflict"], "client": {"silent_days": Infinity}}', "Infinity"),
        (b'{"case_id": "\xff\xfe", "situations": ["conflict"]}', "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            b'{"situations": ["conflict"], "client": {"silent_days": 1' + b"0" * 5000 + b"}}",
            "digits",
        ),
        (b"", "line 1"),
        (b'{"situations": ["conflict"], "case_id": "\\ud800"}', "lone surrogate"),
    ],
)
def test_malformed_json_is_a_400_saying_why(client, data, fragment):
    response = client.post(GUIDANCE, data=data, content_type="application/json")
    body = checked(response, GUIDANCE, "POST")
    assert response.status_code == 400
    assert body["title"] == "Malformed JSON"
    assert fragment in body["detail"]


def test_wrong_content_type_is_a_415(client):
    response = client.post(
        GUIDANCE, data=json.dumps({"situations": ["conflict"]}), content_type="text/plain"
    )
    body = checked(response, GUIDANCE, "POST")
    assert response.status_code == 415 and "text/plain" in body["detail"]
    response = client.post(GUIDANCE, data=b'{"situations": ["conflict"]}')
    assert response.status_code == 415


def test_oversized_body_is_a_413(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"situations": ["conflict"], "case_id": "x" * limit})
    response = client.post(GUIDANCE, data=body, content_type="application/json")
    problem = checked(response, GUIDANCE, "POST")
    assert response.status_code == 413 and str(limit) in problem["detail"]


def test_unknown_path_is_a_404_problem(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_wrong_method_is_a_405_problem_with_allow(client):
    response = client.get(GUIDANCE)
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert "POST" in response.headers["Allow"]


def test_unexpected_exception_is_a_500_problem_without_internals():
    from service import create_app

    app = create_app()

    @app.get("/boom")
    def boom():  # a route that fails the way a bug would
        raise RuntimeError("secret internal detail /etc/passwd")

    response = app.test_client().get("/boom")
    body = response.get_json()
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert body["title"] == "Internal Server Error" and body["status"] == 500
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_steps_catalogue_is_localized(client, state):
    body = checked(client.get("/v1/steps?lang=ru"), "/v1/steps")
    assert body["lang"] == "ru" and len(body["steps"]) == len(state.rulebook.steps)
    assert body["steps"][0]["category"] == state.rulebook.categories[0]
    body = checked(client.get("/v1/steps"), "/v1/steps")
    assert body["lang"] == "en"


def test_rules_show_what_each_rule_reads(client, state):
    body = checked(client.get("/v1/rules"), "/v1/rules")
    assert body["ruleset_version"] == state.version
    demand = next(r for r in body["rules"] if r["id"] == "nonpay-formal-demand")
    assert demand["reads"] == ["situations", "fault", "contract", "payment_state"]
    assert demand["when"]["payment_state"] == {"not_in": ["paid", "not_due"], "if_unknown": True}
    contract = next(f for f in body["facts"] if f["name"] == "contract")
    assert contract["type"] == "boolean" and "nonpay-formal-demand" in contract["read_by"]


def test_health_and_readiness(client, state):
    assert checked(client.get("/healthz"), "/healthz") == {"status": "ok"}
    ready = checked(client.get("/readyz"), "/readyz")
    assert ready["status"] == "ready" and ready["ruleset_version"] == state.version


def test_openapi_is_served(client, spec):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200 and response.mimetype == "application/yaml"
    import yaml

    assert yaml.safe_load(response.get_data(as_text=True)) == spec


def test_a_case_that_contradicts_an_implication_is_refused_naming_both_fields(client):
    response, body = post(
        client,
        {"situations": ["non_payment"], "stage": "delivered", "deliverables": {"sent": False}},
        path=GUIDANCE + "?lang=ru",
    )
    assert response.status_code == 422
    assert set(body["errors"]) == {"deliverables.sent", "stage"}
    assert "stage: delivered" in body["errors"]["deliverables.sent"][0]


def test_implied_facts_are_known_cited_and_never_asked(client):
    _, body = post(
        client,
        {"situations": ["non_payment"], "stage": "delivered"},
        path=GUIDANCE + "?questions=all",
    )
    asked = {q["field"] for q in body["questions"]}
    assert "deliverables.sent" not in asked
    # Delivered work was sent: previews only if it was protected, which is now the question.
    assert "deliverables.protected" in asked
    _, body = post(client, {"situations": ["new_client"]}, path=GUIDANCE + "?questions=all")
    assert not {"fault", "stage", "deliverables.sent"} & {q["field"] for q in body["questions"]}


def test_at_most_five_questions_unless_all_are_asked_for(client):
    case = {"situations": ["conflict", "non_payment", "client_silent", "dissatisfaction"]}
    _, default = post(client, case)
    _, every = post(client, case, path=GUIDANCE + "?questions=all")
    assert len(default["questions"]) == 5 < len(every["questions"])
    assert default["questions"] == every["questions"][:5]
    _, none = post(client, case, path=GUIDANCE + "?questions=false")
    assert "questions" not in none


def test_a_rule_is_listed_once_even_when_several_of_its_alternatives_hold(client):
    _, body = post(
        client,
        {"situations": ["conflict"], "evidence": {"written_agreements": False, "phone_only": True}},
    )
    assert body["rules_fired"].count("record-agreements") == 1
    record = next(s for s in body["steps"] if s["id"] == "record-every-agreement")
    assert [b["rule"] for b in record["because"]] == ["record-agreements"]
    assert record["phase"] == "next_time"


def test_reasons_cite_only_known_facts_and_the_situations_they_look_for(client):
    _, body = post(
        client,
        {
            "situations": ["conflict", "client_silent"],
            "client": {"silent_days": 9},
            "stage": "in_progress",
        },
        path=GUIDANCE + "?lang=ru",
    )
    for step in body["steps"]:
        for because in step["because"]:
            assert None not in because["facts"].values()
            assert any("\u0400" <= ch <= "\u04ff" for ch in because["reason"])
    suspend = next(s for s in body["steps"] if s["id"] == "warn-work-suspension")
    assert suspend["because"][0]["facts"] == {
        "situations": ["client_silent"],
        "stage": "in_progress",
        "client.silent_days": 9,
    }
    assert "9" in suspend["because"][0]["reason"]
