"""POST /v1/guidance/batch: JSON and NDJSON, in-process and through the real server.

Every result must be exactly what POST /v1/guidance answers for its case. The 10,000-case
exchanges with the server skip the follow-up questions (?questions=false), as the CLI's do;
the smaller ones keep them.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator

from service import create_app
from service.batch import MAX_LINE_BYTES
from tests.support import contract
from tests.support.batch import as_json, assert_same, expected_answers
from tests.support.cases import batch_cases, strategy

BATCH = "/v1/guidance/batch"
NDJSON = "application/x-ndjson"
COUNT = 10_000


pytestmark = pytest.mark.usefixtures("no_cyclic_gc")


def _absolute(schema):
    """The schema with its `#/components/...` references made absolute for the contract registry."""
    if isinstance(schema, dict):
        return {k: (contract.URI + v if k == "$ref" else _absolute(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


def check_ndjson_line(entry: dict) -> None:
    """An NDJSON answer line, validated against its schema in openapi.yaml."""
    schema = contract.spec()["paths"][BATCH]["post"]["responses"]["200"]["content"][NDJSON]
    OAS30Validator(_absolute(schema["schema"]), registry=contract._registry()).validate(entry)


def single(client, case, query: str = "") -> tuple[int, dict]:
    response = client.post(
        "/v1/guidance" + query, data=json.dumps(case), content_type="application/json"
    )
    return response.status_code, response.get_json()


def expected_result(status: int, body: dict, case) -> dict:
    """What a batch result holds for a case the single endpoint answered with (status, body)."""
    if status == 200:
        return {"case_id": body["case_id"], "status": 200, "guidance": body}
    case_id = case.get("case_id") if isinstance(case, dict) else None
    if not (isinstance(case_id, str) and len(case_id) <= 128):
        case_id = None
    return {"case_id": case_id, "status": status, "problem": body}


def without_request_id(result: dict) -> dict:
    if "problem" in result:
        result = {
            **result,
            "problem": {k: v for k, v in result["problem"].items() if k != "request_id"},
        }
    return result


def ndjson(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def results_of(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data().splitlines()]


# --- JSON batches (in-process) ------------------------------------------------------------

# Entries that are no case at all (not even an object), and cases spoiled by the generator.
junk = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    strategy(invalid=1.0),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(st.one_of(strategy(), junk), max_size=6))
def test_json_batch_answers_each_case_as_the_single_endpoint_does(client, batch):
    response = client.post(BATCH, json={"cases": batch})
    assert response.status_code == 200, (batch, response.get_data(as_text=True))
    body = contract.checked(response, BATCH, "POST")
    for index, (case, result) in enumerate(zip(batch, body["results"], strict=True)):
        status, answer = single(client, case)
        assert without_request_id(result) == without_request_id(
            {"index": index, **expected_result(status, answer, case)}
        )
    errors = sum(result["status"] != 200 for result in body["results"])
    assert body["summary"]["cases"] == len(batch)
    assert body["summary"]["errors"] == errors
    assert body["summary"]["evaluated"] == len(batch) - errors


def test_json_batch_keeps_bad_cases_at_their_index_with_the_single_endpoints_errors(client):
    batch = [
        {"case_id": "a", "situations": ["conflict"]},
        {"case_id": "b", "situations": ["conflict"], "client": {"silent_days": -3}},
        {"case_id": 7, "situations": []},
        {"case_id": "d", "situations": ["non_payment"], "contract": False},
    ]
    body = client.post(BATCH, json={"cases": batch}).get_json()
    assert [(r["index"], r["case_id"], r["status"]) for r in body["results"]] == [
        (0, "a", 200),
        (1, "b", 422),
        (2, None, 422),
        (3, "d", 200),
    ]
    assert (
        body["results"][1]["problem"]["errors"]
        == single(client, batch[1])[1]["errors"]
        == {
            "client.silent_days": [
                "Must be greater than or equal to 0 and less than or equal to 3650."
            ]
        }
    )
    assert set(body["results"][2]["problem"]["errors"]) == {"case_id", "situations"}


def test_json_batch_summary_counts_steps_overall_and_by_situation(client):
    batch = [
        {"situations": ["conflict"]},
        {"situations": ["conflict", "non_payment"]},
        {"situations": ["non_payment"], "contract": True},
        {"situations": "conflict"},
    ]
    body = client.post(BATCH, json={"cases": batch}).get_json()
    guidance = [r.get("guidance") for r in body["results"]]
    steps = Counter(s["id"] for g in guidance if g for s in g["steps"])
    summary = body["summary"]
    assert (summary["cases"], summary["evaluated"], summary["errors"]) == (4, 3, 1)
    assert summary["steps"] == dict(steps)
    assert list(summary["steps"].values()) == sorted(steps.values(), reverse=True)
    assert list(summary["situations"]) == ["conflict", "non_payment"]  # catalogue order
    conflict = Counter(s["id"] for g in guidance[:2] for s in g["steps"])
    assert summary["situations"]["conflict"] == {"cases": 2, "steps": dict(conflict)}
    assert summary["situations"]["non_payment"]["cases"] == 2


def test_json_batch_takes_lang_and_questions_as_the_single_endpoint(client):
    case = {"case_id": "ru", "situations": ["client_silent"], "prepayment": "partial"}
    response = client.post(BATCH + "?lang=ru&questions=false", json={"cases": [case]})
    assert response.headers["Content-Language"] == "ru"
    answer = response.get_json()["results"][0]["guidance"]
    assert answer == single(client, case, "?lang=ru&questions=false")[1]
    assert "questions" not in answer
    response = client.post(BATCH, json={"cases": [case]}, headers={"Accept-Language": "ru"})
    assert response.get_json()["results"][0]["guidance"] == single(client, case, "?lang=ru")[1]
    response = client.post(BATCH + "?questions=maybe", json={"cases": [case]})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_json_batch_over_the_limit_is_a_413_problem():
    client = create_app({"TESTING": True, "BATCH_LIMIT": 3}).test_client()
    case = {"situations": ["conflict"]}
    assert client.post(BATCH, json={"cases": [case] * 3}).status_code == 200
    response = client.post(BATCH, json={"cases": [case] * 4})
    body = contract.checked(response, BATCH, "POST")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert body["type"].endswith(":batch-too-large")
    assert "limit of 3" in body["detail"]


@pytest.mark.parametrize(
    "body, errors",
    [
        ([], {"$": ["Expected a JSON object."]}),
        ({}, {"cases": ["Missing data for required field."]}),
        ({"cases": {"situations": ["conflict"]}}, {"cases": ["Not a valid list."]}),
        ({"cases": None}, {"cases": ["Field may not be null."]}),
        ({"cases": [], "more": 1}, {"more": ["Unknown field."]}),
    ],
)
def test_json_batch_that_is_not_a_list_of_cases_is_a_422_problem(client, body, errors):
    response = client.post(BATCH, json=body)
    problem = contract.checked(response, BATCH, "POST")
    assert response.status_code == 422
    assert problem["errors"] == errors


def test_json_batch_wrong_type_is_415_and_malformed_json_is_400(client):
    response = client.post(BATCH, data="cases", content_type="text/plain")
    assert response.status_code == 415 and NDJSON in response.get_json()["detail"]
    response = client.post(BATCH, data='{"cases": [', content_type="application/json")
    assert response.status_code == 400
    contract.checked(response, BATCH, "POST")


def test_empty_json_batch_answers_an_empty_summary(client):
    body = client.post(BATCH, json={"cases": []}).get_json()
    assert body == {
        "results": [],
        "summary": {"cases": 0, "evaluated": 0, "errors": 0, "steps": {}, "situations": {}},
    }


# --- NDJSON (in-process) ---------------------------------------------------------------------


def test_ndjson_answers_line_by_line_and_bad_lines_do_not_stop_it(client):
    good = {"case_id": "g", "situations": ["non_payment"], "contract": True}
    long_line = json.dumps({"situations": ["conflict"], "case_id": "x" * MAX_LINE_BYTES})
    body = (
        ndjson(
            json.dumps(good).encode(),
            b"",
            b"{not json",
            b'{"situations": []}',
            long_line.encode(),
            json.dumps(good).encode() + b"\r",
        )
        + json.dumps(good).encode()
    )
    response = client.post(BATCH, data=body, content_type=NDJSON)
    assert response.status_code == 200 and response.mimetype == NDJSON
    lines = results_of(response)
    for entry in lines:
        check_ndjson_line(entry)
    *results, last = lines
    assert [(r["line"], r["status"]) for r in results] == [
        (1, 200),
        (3, 400),
        (4, 422),
        (5, 413),
        (6, 200),
        (7, 200),
    ]
    assert results[0]["guidance"] == results[4]["guidance"] == single(client, good)[1]
    assert results[1]["problem"]["detail"].startswith("Line 3: Malformed JSON")
    assert results[2]["problem"]["errors"] == single(client, {"situations": []})[1]["errors"]
    assert results[3]["problem"]["type"].endswith(":line-too-long")
    assert last["summary"]["cases"] == 6 and last["summary"]["errors"] == 3


def test_ndjson_line_limit_counts_the_line_break(client):
    case = b'{"situations": ["conflict"]}'
    at_limit = case + b" " * (MAX_LINE_BYTES - len(case) - 1)
    response = client.post(BATCH, data=ndjson(at_limit, at_limit + b" "), content_type=NDJSON)
    assert [r.get("status") for r in results_of(response)] == [200, 413, None]


def test_ndjson_empty_body_answers_only_the_summary(client):
    response = client.post(BATCH + "?lang=ru", data=b"", content_type=NDJSON)
    assert results_of(response) == [
        {"summary": {"cases": 0, "evaluated": 0, "errors": 0, "steps": {}, "situations": {}}}
    ]
    assert response.headers["Content-Language"] == "ru"


# --- through the real server ------------------------------------------------------------------


class Exchange:
    """A chunked NDJSON request whose body is sent while the answer is read."""

    def __init__(self, url: str, query: str = "", timeout: float = 60):
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.putrequest("POST", BATCH + query)
        self.connection.putheader("Content-Type", NDJSON)
        self.connection.putheader("Transfer-Encoding", "chunked")
        self.connection.endheaders()
        self.socket = self.connection.sock  # the sender's; getresponse may drop the attribute
        self.failure: BaseException | None = None

    def send(self, data: bytes, piece: int = 4096) -> None:
        # Pieces cut across lines: the server must join a line from several chunks.
        for start in range(0, len(data), piece):
            chunk = data[start : start + piece]
            self.socket.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def send_in_background(self, data: bytes) -> threading.Thread:
        def run():
            try:
                self.send(data)
                self.socket.sendall(b"0\r\n\r\n")
            except BaseException as error:  # reported by the test, not lost in the thread
                self.failure = error

        thread = threading.Thread(target=run)
        thread.start()
        return thread


def stream(url: str, body: bytes, query: str = "") -> tuple[http.client.HTTPResponse, list]:
    """The answer's lines, as bytes."""
    exchange = Exchange(url, query)
    sender = exchange.send_in_background(body)
    response = exchange.connection.getresponse()
    lines = list(response)
    sender.join()
    assert exchange.failure is None
    exchange.connection.close()
    return response, lines


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return batch_cases(COUNT)


BAD_LINES = {  # after which case (index): the bad line and its status
    0: (b"{oops", 400),
    4321: (b'{"situations": ["conflict"], "stage": "later"}', 422),
    8765: (b"[" * (MAX_LINE_BYTES + 5), 413),
}


@pytest.mark.server
def test_ndjson_through_the_server_answers_10000_cases_in_order(server, state, corpus):
    lines, where = [], []
    for index, case in enumerate(corpus):
        lines.append(json.dumps(case).encode())
        where.append(len(lines))
        if index in BAD_LINES:
            lines.append(BAD_LINES[index][0])
    response, answer = stream(server.url, ndjson(*lines), "?questions=false")
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    *results, last = answer
    assert len(results) == len(lines)
    bad = {where[i] + 1: status for i, (_, status) in BAD_LINES.items()}
    for number, status in bad.items():
        result = json.loads(results[number - 1])
        assert (result["line"], result["status"]) == (number, status)
        check_ndjson_line(result)
    # Each good line: its envelope around exactly the single endpoint's answer, in order.
    expected = [
        as_json({"line": number, "case_id": answer["case_id"], "status": 200, "guidance": answer})
        + b"\n"
        for number, answer in zip(
            where, expected_answers(state, corpus, questions=False), strict=False
        )
    ]
    assert_same([results[number - 1] for number in where], expected)
    for line in results[:20]:
        check_ndjson_line(json.loads(line))
    summary = json.loads(last)
    check_ndjson_line(summary)
    assert summary["summary"]["cases"] == COUNT + len(BAD_LINES)
    assert summary["summary"]["errors"] == len(BAD_LINES)


@pytest.mark.server
def test_ndjson_answers_the_first_lines_before_the_body_ends(server, corpus):
    exchange = Exchange(server.url, "?questions=false", timeout=20)
    exchange.send(ndjson(*(json.dumps(c).encode() for c in corpus[:100])))
    response = exchange.connection.getresponse()  # a timeout here: nothing was streamed
    first = json.loads(response.readline())
    assert first["line"] == 1 and first["case_id"] == corpus[0].get("case_id")
    exchange.send(ndjson(json.dumps(corpus[100]).encode()))
    exchange.socket.sendall(b"0\r\n\r\n")
    rest = [json.loads(line) for line in response]
    assert [r["line"] for r in rest[:-1]] == list(range(2, 102))
    assert rest[-1]["summary"]["cases"] == 101
    exchange.connection.close()


@pytest.mark.server
def test_ndjson_cut_off_before_its_content_length_ends_without_a_summary(server):
    body = ndjson(b'{"situations": ["conflict"]}')
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    connection.putrequest("POST", BATCH)
    connection.putheader("Content-Type", NDJSON)
    connection.putheader("Content-Length", str(len(body) + 100))
    connection.endheaders()
    connection.sock.sendall(body)
    connection.sock.shutdown(socket.SHUT_WR)  # the client stops sending
    response = connection.getresponse()
    *results, last = [json.loads(line) for line in response]
    connection.close()
    assert [(r["line"], r["status"]) for r in results] == [(1, 200)]
    assert "summary" not in last
    assert (last["line"], last["status"]) == (None, 400)
    assert "no summary follows" in last["problem"]["detail"]


def post_json(url: str, body: dict, query: str = "") -> dict:
    request = urllib.request.Request(
        url + BATCH + query,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.mark.server
def test_json_batches_through_the_server_answer_10000_cases(server, state, corpus):
    slices = [corpus[start : start + 1000] for start in range(0, COUNT, 1000)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda s: post_json(server.url, {"cases": s}, "?questions=false"), slices)
        )
    results = [r for answer in answers for r in answer["results"]]
    assert [r["index"] for r in results] == [i for s in slices for i in range(len(s))]
    assert all(r["status"] == 200 for r in results)
    assert_same([r["guidance"] for r in results], expected_answers(state, corpus, questions=False))
    assert sum(a["summary"]["evaluated"] for a in answers) == COUNT


@pytest.mark.server
def test_server_batch_equals_the_servers_single_endpoint(server, corpus):
    sample = corpus[:60]
    results = post_json(server.url, {"cases": sample})["results"]
    for case, result in zip(sample, results, strict=True):
        request = urllib.request.Request(
            server.url + "/v1/guidance",
            data=json.dumps(case).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert result["guidance"] == json.loads(response.read())


def test_a_json_batch_over_the_request_timeout_is_a_503_problem():
    from service import create_app

    app = create_app({"REQUEST_TIMEOUT": 1, "BATCH_LIMIT": 100_000, "MAX_BODY_BYTES": 1 << 24})
    many = [{"situations": ["non_payment", "conflict", "dissatisfaction"]}] * 30_000
    response = app.test_client().post("/v1/guidance/batch", json={"cases": many})
    body = response.get_json()
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert body["title"] == "Batch timed out" and "longer than 1 s" in body["detail"]
