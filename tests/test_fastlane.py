"""The hot route's lean path (service/fastlane.py) answers exactly as Flask alone does.

Each request is sent twice, as two fresh WSGI calls on the same app: once through the app
as it serves (the lane in front of Flask), once to Flask's own WSGI app behind the lane.
Status, headers (in order) and body must be equal, and the lane must have answered the
requests it is meant to take and left every other one to Flask. Then the metrics and the
log lines of a run through the lane equal those of the same run through Flask alone.
"""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from werkzeug.test import EnvironBuilder

from service import create_app
from service.observability import metrics
from tests.support.cases import generate

ORIGIN = "https://crm.example"
KEY = "lane-key"
SETTINGS = {
    "open": {},
    "cors": {"CORS_ORIGINS": (ORIGIN,)},
    "cors-any": {"CORS_ORIGINS": ("*",)},
    "keys": {"API_KEYS": (KEY, "other-key")},
}
_apps: dict = {}


def app_for(setting: str):
    if setting not in _apps:
        _apps[setting] = create_app({"TESTING": True, **SETTINGS[setting]})
    return _apps[setting]


def environ(
    body: bytes,
    query: str = "",
    headers: dict | None = None,
    content_type: str = "application/json",
    method: str = "POST",
    path: str = "/v1/guidance",
) -> dict:
    env = EnvironBuilder(
        path=path,
        method=method,
        data=body,
        query_string=query,
        headers=headers or {},
        content_type=content_type,
    ).get_environ()
    return env


def call(wsgi, env: dict, stream=None) -> tuple[str, list, bytes]:
    """One WSGI call on a copy of `env`, its body a fresh stream (or `stream`)."""
    env = dict(env)
    env["wsgi.input"] = stream or io.BytesIO(env["wsgi.input"].getvalue())
    started: list = []
    result = wsgi(env, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = started[0]
    return status, list(headers), body


def both(app, env: dict) -> tuple[tuple, tuple, int]:
    """(through the lane, through Flask alone, how many of them the lane answered)."""
    lane = app.wsgi_app
    before = lane.answered
    served = call(app, env)
    taken = lane.answered - before
    alone = call(lane.flask, env)
    return served, alone, taken


def headers_with(setting: str, extra: dict) -> dict:
    headers = {"X-Request-ID": "req-1", **extra}
    if setting == "keys":
        headers.setdefault("Authorization", f"Bearer {KEY}")
    return headers


VARIANTS = [
    ("", {}),
    ("lang=ru", {}),
    ("messages=all&lang=ru", {}),
    ("questions=all", {}),
    ("questions=false&messages=false", {}),
    ("questions=on&messages=off&lang=EN", {}),
    ("lang=de", {"Accept-Language": "ru"}),
    ("", {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}),
    ("", {"Accept-Language": "fr, en;q=0.1"}),
    ("", {"Origin": ORIGIN}),
    ("", {"Origin": "https://elsewhere.example"}),
]


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_the_lane_answers_common_requests_as_flask_does(setting):
    app = app_for(setting)
    cases = generate(60, seed=11, ids="lane-{}", context_chance=0.5)
    taken = 0
    for index, case in enumerate(cases):
        query, extra = VARIANTS[index % len(VARIANTS)]
        content_type = "application/json; charset=utf-8" if index % 7 == 3 else "application/json"
        env = environ(
            json.dumps(case, ensure_ascii=index % 2 == 0).encode(),
            query,
            headers_with(setting, extra),
            content_type,
        )
        served, alone, took = both(app, env)
        assert served == alone, (setting, query, extra)
        assert served[0] == "200 OK"
        taken += took
    assert taken == len(cases), "the lane left common requests to Flask"


def test_a_request_without_an_id_gets_a_fresh_one_either_way():
    app = app_for("open")
    env = environ(json.dumps(generate(1, seed=3)[0]).encode(), headers={"X-Request-ID": "bad id!"})
    served, alone, taken = both(app, env)
    assert taken == 1
    ids = [dict(h)["X-Request-ID"] for _, h, _ in (served, alone)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    for fresh in ids:  # what uuid.uuid4().hex gives: version 4, the RFC 4122 variant
        assert uuid.UUID(hex=fresh).version == 4 and uuid.UUID(hex=fresh).variant == uuid.RFC_4122
    strip = [(s, [x for x in h if x[0] != "X-Request-ID"], b) for s, h, b in (served, alone)]
    assert strip[0] == strip[1]


class _Broken(io.RawIOBase):
    """A body stream that gives some bytes, then fails as a vanished client does."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._data.readinto(buffer)
        if count == 0:
            raise OSError("connection reset")
        return count


def refused_requests() -> list[tuple[str, str, dict, str]]:
    case = generate(1, seed=5)[0]
    good = json.dumps(case).encode()
    long = json.dumps({**case, "case_id": "x" * 2_000_000}).encode()
    return [
        ("malformed JSON", "open", environ(b'{"situations": ['), "400"),
        ("duplicate keys", "open", environ(b'{"situations": ["silent"], "situations": []}'), "400"),
        ("invalid case", "open", environ(json.dumps({**case, "stage": "nope"}).encode()), "422"),
        ("no situations", "open", environ(b"{}"), "422"),
        ("bad flag", "open", environ(good, "questions=maybe"), "422"),
        ("bad messages flag", "open", environ(good, "messages=perhaps"), "422"),
        ("not JSON", "open", environ(good, content_type="text/plain"), "415"),
        ("+json type", "open", environ(good, content_type="application/merge-patch+json"), "200"),
        ("other charset", "open", environ(good, content_type="application/json; charset=x"), "200"),
        ("too large", "open", environ(long), "413"),
        ("no key", "keys", environ(good), "401"),
        ("wrong key", "keys", environ(good, headers={"Authorization": "Bearer nope"}), "401"),
        ("GET", "open", environ(b"", method="GET"), "405"),
        ("trailing slash", "open", environ(good, path="/v1/guidance/"), "404"),
        ("preflight", "cors", environ(b"", method="OPTIONS", headers={"Origin": ORIGIN}), "200"),
    ]


@pytest.mark.parametrize(
    "name,setting,env,status", refused_requests(), ids=[r[0] for r in refused_requests()]
)
def test_every_other_request_is_left_to_flask_and_answered_as_before(name, setting, env, status):
    env.setdefault("HTTP_X_REQUEST_ID", "req-2")
    served, alone, taken = both(app_for(setting), env)
    assert taken == 0
    assert served == alone
    assert served[0].split()[0] == status


def test_a_short_or_failing_body_is_left_to_flask_with_the_bytes_that_came():
    app = app_for("open")
    good = json.dumps(generate(1, seed=6)[0]).encode()
    lane = app.wsgi_app
    outcomes = []
    for stream_of in (lambda: io.BytesIO(good[:10]), lambda: _Broken(good[:10])):
        env = environ(good, headers={"X-Request-ID": "req-3"})
        answers = []
        for wsgi in (app, lane.flask):
            before = lane.answered
            answers.append(call(wsgi, env, stream_of()))
            assert lane.answered == before
        assert answers[0] == answers[1]
        outcomes.append(answers[0][0])
    assert all(status.startswith("400") for status in outcomes), outcomes


def samples(app) -> dict:
    """The metrics that do not depend on timing: counters, and the histograms' counts."""
    out = {}
    for family in metrics(app).registry.collect():
        for sample in family.samples:
            if sample.name.endswith(("_created", "_bucket", "_sum")):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_and_log_lines_equal_those_of_flask_alone(capsys):
    lane_app = create_app({"TESTING": True})
    flask_app = create_app({"TESTING": True})
    capsys.readouterr()
    requests = [
        environ(json.dumps(c).encode(), headers={"X-Request-ID": f"r{i}"})
        for i, c in enumerate(generate(25, seed=8, ids="m-{}", unnamed_every=4))
    ] + [
        {**r[2], "HTTP_X_REQUEST_ID": r[0].replace(" ", "-")}
        for r in refused_requests()
        if r[1] == "open"
    ]
    for env in requests:
        call(lane_app, env)
    lane_log = capsys.readouterr().err
    for env in requests:
        call(flask_app.wsgi_app.flask, env)
    flask_log = capsys.readouterr().err
    assert lane_app.wsgi_app.answered == 25
    assert samples(lane_app) == samples(flask_app)
    # 25 by the lane, 2 answered by Flask (+json, another charset), 1 refused by Flask after
    # its evaluation (the messages flag is read when the answer is rendered)
    assert samples(lane_app)[("dispute_guide_evaluations_total", ())] == 28

    def lines(text: str) -> list[dict]:
        out = []
        for line in text.splitlines():
            entry = json.loads(line)
            if entry.get("event") == "request":
                del entry["ts"], entry["duration_ms"]
                out.append(entry)
        return out

    assert lines(lane_log) == lines(flask_log)
    assert len(lines(lane_log)) == len(requests)
