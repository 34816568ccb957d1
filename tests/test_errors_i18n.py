"""Problems in the caller's language, and the plainer English they are translated from.

With `?lang=ru` or `Accept-Language: ru`, a problem's title, detail and field messages are
Russian; its type URI, status and field paths are those of the English answer, so clients
can match on them whatever the language.
"""

from __future__ import annotations

import json
import re

import pytest

from service import create_app
from service.errors import ApiError

CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
CASE = {"situations": ["conflict"]}
NDJSON = "application/x-ndjson"


def body(value) -> bytes:
    return json.dumps(value).encode()


# (name, method, path, raw body, content type): each one answered with a problem.
BAD_REQUESTS = [
    (
        "trailing comma",
        "POST",
        "/v1/guidance",
        b'{"situations": ["conflict"],}',
        "application/json",
    ),
    ("unterminated string", "POST", "/v1/guidance", b'{"situations": ["confl', "application/json"),
    ("expecting value", "POST", "/v1/guidance", b"", "application/json"),
    ("extra data", "POST", "/v1/guidance", b"{} {}", "application/json"),
    ("missing colon", "POST", "/v1/guidance", b'{"situations" 1}', "application/json"),
    ("invalid utf-8", "POST", "/v1/guidance", b'{"situations": ["\xff"]}', "application/json"),
    (
        "duplicate key",
        "POST",
        "/v1/guidance",
        b'{"situations": [], "situations": []}',
        "application/json",
    ),
    ("NaN", "POST", "/v1/guidance", b'{"situations": NaN}', "application/json"),
    ("long number", "POST", "/v1/guidance", b'{"x": ' + b"9" * 500 + b"}", "application/json"),
    ("deep nesting", "POST", "/v1/guidance", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("lone surrogate", "POST", "/v1/guidance", b'{"case_id": "\\ud800"}', "application/json"),
    ("media type", "POST", "/v1/guidance", body(CASE), "text/plain"),
    ("no media type", "POST", "/v1/guidance", body(CASE), None),
    ("not an object", "POST", "/v1/guidance", body([CASE]), "application/json"),
    (
        "every kind of field error",
        "POST",
        "/v1/guidance",
        body(
            {
                "situations": ["war", "war"],
                "contract": 1,
                "stage": "later",
                "fault": None,
                "client": {"silent_days": 100000, "contact_attempts": -1, "toxic": "yes"},
                "evidence": [],
                "case_id": "x" * 200,
                "contarct": True,
                "budget": 1,
            }
        ),
        "application/json",
    ),
    (
        "facts contradicting each other",
        "POST",
        "/v1/guidance",
        body({"situations": ["conflict"], "stage": "delivered", "deliverables": {"sent": False}}),
        "application/json",
    ),
    ("no situations", "POST", "/v1/guidance", body({"contract": True}), "application/json"),
    ("empty situations", "POST", "/v1/guidance", body({"situations": []}), "application/json"),
    (
        "a situations string",
        "POST",
        "/v1/guidance",
        body({"situations": "conflict"}),
        "application/json",
    ),
    ("bad flag", "POST", "/v1/guidance?questions=maybe", body(CASE), "application/json"),
    ("unknown path", "GET", "/v1/nothing", None, None),
    ("wrong method", "DELETE", "/v1/guidance", None, None),
    (
        "too large",
        "POST",
        "/v1/guidance",
        b'{"case_id": "' + b"x" * 70_000 + b'"}',
        "application/json",
    ),
    ("batch not an object", "POST", "/v1/guidance/batch", body([]), "application/json"),
    (
        "batch unknown field",
        "POST",
        "/v1/guidance/batch",
        body({"cases": [], "more": 1}),
        "application/json",
    ),
    (
        "batch too many",
        "POST",
        "/v1/guidance/batch",
        body({"cases": [CASE] * 6}),
        "application/json",
    ),
    ("batch media type", "POST", "/v1/guidance/batch", body(CASE), "text/csv"),
]


@pytest.fixture(scope="module")
def small_app():
    return create_app({"TESTING": True, "MAX_BODY_BYTES": 65536, "BATCH_LIMIT": 5})


def send(app, method, path, data, content_type, **headers):
    if content_type:
        headers["Content-Type"] = content_type
    with app.test_client() as c:
        return c.open(path, method=method, data=data, headers=headers)


def texts(problem: dict) -> list[str]:
    return [
        problem["title"],
        problem["detail"],
        *(m for messages in problem.get("errors", {}).values() for m in messages),
    ]


def same_but_language(english: dict, russian: dict) -> None:
    assert russian["type"] == english["type"]
    assert russian["status"] == english["status"]
    assert list(russian.get("errors", {})) == list(english.get("errors", {}))
    for path in english.get("errors", {}):
        assert len(russian["errors"][path]) == len(english["errors"][path])
    untranslated = [t for t in texts(russian) if not CYRILLIC.search(t)]
    assert not untranslated, (untranslated, english)


@pytest.mark.parametrize(
    "name, method, path, data, content_type", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS]
)
def test_problems_are_in_russian_when_asked_and_otherwise_the_same(
    small_app, name, method, path, data, content_type
):
    english = send(small_app, method, path, data, content_type)
    assert english.status_code >= 400 and english.mimetype == "application/problem+json"
    assert english.headers["Content-Language"] == "en"
    assert not any(CYRILLIC.search(t) for t in texts(english.get_json()))
    separator = "&" if "?" in path else "?"
    by_query = send(small_app, method, f"{path}{separator}lang=ru", data, content_type)
    by_header = send(
        small_app, method, path, data, content_type, **{"Accept-Language": "ru-RU,ru;q=0.9"}
    )
    for russian in (by_query, by_header):
        assert russian.status_code == english.status_code
        assert russian.headers["Content-Language"] == "ru"
        assert "Accept-Language" in russian.headers["Vary"]
        same_but_language(english.get_json(), russian.get_json())


def test_an_unsupported_language_gets_english(small_app):
    answer = send(small_app, "POST", "/v1/guidance?lang=de", body([CASE]), "application/json")
    assert answer.headers["Content-Language"] == "en"
    assert answer.get_json()["errors"] == {"$": ["Expected a JSON object."]}


def test_a_batch_answers_each_bad_case_in_the_language_asked(small_app):
    cases = {"cases": [CASE, [None, None], {"situations": ["conflict"], "contarct": True}]}
    english = send(small_app, "POST", "/v1/guidance/batch", body(cases), "application/json")
    russian = send(small_app, "POST", "/v1/guidance/batch?lang=ru", body(cases), "application/json")
    for i in (1, 2):
        same_but_language(
            english.get_json()["results"][i]["problem"], russian.get_json()["results"][i]["problem"]
        )
    assert russian.get_json()["results"][2]["problem"]["errors"] == {
        "contarct": ["Неизвестное поле; может быть, `contract`?"]
    }


def test_ndjson_problem_lines_are_in_the_language_asked(small_app):
    lines = b'{"situations": ["conflict"]}\n[1]\n{"situations": \n' + b"x" * 70_000 + b"\n"
    for lang, word in (("en", "Expected a JSON object."), ("ru", "Ожидался объект JSON.")):
        answer = send(small_app, "POST", f"/v1/guidance/batch?lang={lang}", lines, NDJSON)
        results = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
        problems = [r["problem"] for r in results if "problem" in r]
        assert [p["status"] for p in problems] == [422, 400, 413]
        assert problems[0]["errors"] == {"$": [word]}
        if lang == "ru":
            for problem in problems:
                assert all(CYRILLIC.search(t) for t in texts(problem)), problem


def test_401_is_in_russian_too():
    app = create_app({"TESTING": True, "API_KEYS": ("k1",)})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        english = send(app, "POST", "/v1/guidance", body(CASE), "application/json", **headers)
        russian = send(
            app, "POST", "/v1/guidance?lang=ru", body(CASE), "application/json", **headers
        )
        assert english.status_code == russian.status_code == 401
        same_but_language(english.get_json(), russian.get_json())


@pytest.mark.parametrize(
    "case, path, message",
    [
        (
            {"situations": ["conflict"], "contarct": True},
            "contarct",
            "Unknown field; did you mean `contract`?",
        ),
        (
            {"situations": ["conflict"], "Contract": True},
            "Contract",
            "Unknown field; did you mean `contract`?",
        ),
        ({"situation": ["conflict"]}, "situation", "Unknown field; did you mean `situations`?"),
        (
            {"situations": ["conflict"], "client": {"silentdays": 3}},
            "client.silentdays",
            "Unknown field; did you mean `silent_days`?",
        ),
        ({"situations": ["conflict"], "budget": 1}, "budget", "Unknown field."),
        ({"situations": ["conflict"], "client": 1}, "client", "Expected a JSON object."),
        ("conflict", "$", "Expected a JSON object."),
        (7, "$", "Expected a JSON object."),
    ],
)
def test_unknown_fields_name_the_closest_known_one_and_non_objects_say_so(
    client, case, path, message
):
    answer = client.post("/v1/guidance", json=case)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][path] == [message]


def test_every_problem_title_has_a_translation():
    from service import batch, security  # noqa: F401  (their problems are ApiErrors too)
    from service.problem_texts import TITLES

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    titles = {ApiError.title} | {sub.title for sub in subclasses(ApiError)}
    assert titles - set(TITLES["ru"]) == set()


def test_the_cli_says_field_problems_in_the_language_asked(tmp_path):
    import subprocess
    import sys

    case = tmp_path / "case.json"
    case.write_text(json.dumps({"situations": ["conflict"], "contarct": True}))
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "evaluate", str(case), "--lang", "ru"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"dispute-guide: {case}: contarct: Неизвестное поле; может быть, `contract`?\n"
    )
