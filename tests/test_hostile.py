"""Hostile input against the real gunicorn server.

Each case asserts the exact status and problem body, and then that the worker survived: the
server runs one worker, so the same process must still be there, must answer the next
normal request exactly as the app does in-process, and must have logged no traceback.

Also here: the regression tests for what the contract fuzzing (test_fuzz.py) found. The
requests are written by tests/support/rawhttp.py.
"""

from __future__ import annotations

import http.client
import json
import socket

import pytest
import yaml

from tests.support.cases import RULEBOOK, WRONG_TYPES
from tests.support.contract import check, check_line, spec
from tests.support.rawhttp import PROBLEM, Answer, chunked, dumps, exchange, post, raw_post
from tests.support.server import Server, holds, wait_for

pytestmark = pytest.mark.server

GUIDANCE = "/v1/guidance"
BATCH = "/v1/guidance/batch"
NDJSON = "application/x-ndjson"
TYPE = "tag:dispute-guide,2026:problem:"
LIMIT = 1048576  # DISPUTE_GUIDE_MAX_BODY_BYTES, the default
MAX_LINE = 64 * 1024  # an NDJSON line, its break included
NORMAL = {
    "case_id": "after",
    "situations": ["non_payment"],
    "contract": True,
    "payment_state": "overdue",
    "deliverables": {"sent": True, "protected": True},
}
# What a worker logs when something went wrong that a client must never cause.
BAD_LOG = (
    "Traceback",
    "unexpected_error",
    "engine_error",
    "Booting worker",
    "WORKER TIMEOUT",
    "SIGSEGV",
    "SIGABRT",
    "SIGKILL",
    "Worker exiting",
)


# --- the expected problems ---------------------------------------------------------------


def problem(
    status: int, title: str, detail: str, slug: str | None = None, errors: dict | None = None
) -> dict:
    body = {
        "type": TYPE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def malformed(detail: str) -> dict:
    return problem(400, "Malformed JSON", detail, "malformed-json")


def invalid(errors: dict) -> dict:
    return problem(
        422,
        "Invalid case",
        "The case does not match the schema; see `errors`.",
        "validation",
        errors,
    )


TOO_LARGE = problem(
    413, "Request Entity Too Large", f"The body is larger than the limit of {LIMIT} bytes."
)


# --- the server ---------------------------------------------------------------------------


class Hostile:
    """One worker, so that "the worker survived" means the same process answers next."""

    def __init__(self, server: Server, normal_answer: dict):
        self.server = server
        self.port = server.port
        self.normal_answer = normal_answer
        self.workers = server.workers()
        assert len(self.workers) == 1
        self.mark = len(server.output())

    def post(
        self, body: bytes, path: str = GUIDANCE, content_type: str = "application/json", **kwargs
    ) -> Answer:
        return post(self.port, path, body, content_type, **kwargs)

    def raw(self, data: bytes, **kwargs) -> Answer:
        return exchange(self.port, data, **kwargs)

    def survives(self) -> None:
        """The same worker answers a normal case exactly as the app does in-process."""
        assert self.server.workers() == self.workers, "the worker was replaced"
        answer = self.post(dumps(NORMAL))
        assert answer.status == 200 and answer.json() == self.normal_answer
        log = self.server.output()
        new, self.mark = log[self.mark :], len(log)
        for sign in BAD_LOG:
            assert sign not in new, f"the server logged {sign!r}:\n{new[-3000:]}"


@pytest.fixture(scope="module")
def hostile_server():
    srv = Server(workers=1, threads=4).start()
    yield srv
    srv.stop()


@pytest.fixture
def h(hostile_server, app):
    expected = app.test_client().post(GUIDANCE, json=NORMAL).get_json()
    hostile = Hostile(hostile_server, expected)
    hostile.survives()
    return hostile


# --- JSON that is not what it seems -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 100_000 + b"]" * 100_000,  # well-formed, just deep
        b'{"situations":["conflict"],"client":' + b'{"x":' * 100_000 + b"1" + b"}" * 100_001,
    ],
    ids=["open-arrays", "open-objects", "closed-arrays", "inside-a-case"],
)
def test_json_nested_100000_levels_deep(h, body):
    answer = h.post(body)
    assert answer.status == 400
    assert answer.problem() == malformed("The JSON is nested too deeply.")
    h.survives()


def test_invalid_utf8(h):
    for body, byte in [
        (b'{"situations":["conflict"],"case_id":"\xff"}', 38),
        (b'{"case_id":"\xc0\xaf"}', 12),  # an overlong encoding of "/"
        (b'{"case_id":"\xed\xa0\x80"}', 12),  # a UTF-16 surrogate, as UTF-8
        (b"\xfe\xff{}", 0),
    ]:
        answer = h.post(body)
        assert answer.status == 400, body
        assert answer.problem() == malformed(f"The body is not valid UTF-8 (byte {byte}).")
    h.survives()


@pytest.mark.parametrize(
    "number, detail",
    [
        ("NaN", "NaN is not a JSON number."),
        ("Infinity", "Infinity is not a JSON number."),
        ("-Infinity", "-Infinity is not a JSON number."),
        ("1" + "0" * 1000, "A number with 1001 digits is too long."),
        ("-1" + "0" * 1000, "A number with 1002 digits is too long."),
    ],
)
def test_numbers_json_cannot_hold_are_malformed(h, number, detail):
    for body in [
        b'{"situations":["client_silent"],"client":{"silent_days":%s}}' % number.encode(),
        b'{"situations":["conflict"],"unknown":[%s]}' % number.encode(),
    ]:
        answer = h.post(body)
        assert answer.status == 400
        assert answer.problem() == malformed(detail)
    h.survives()


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "5.0", "5.5", "1e1", "-0.0", "1E2", "0.000001", "1" + "0" * 399]
)
def test_floats_and_huge_numbers_where_ints_belong_are_invalid(h, number):
    """1e400 is a JSON number (Python reads it as inf): like any float, not an integer."""
    body = b'{"situations":["client_silent"],"client":{"silent_days":%s,"contact_attempts":%s}}'
    answer = h.post(body % (number.encode(), number.encode()))
    assert answer.status == 422
    if number.startswith("1000"):  # an integer of 400 digits: parsed, then out of range
        fact = RULEBOOK.facts["client.silent_days"]
        other = RULEBOOK.facts["client.contact_attempts"]
        errors = {
            "client.silent_days": [
                (
                    f"Must be greater than or equal to {fact.min} and less than "
                    f"or equal to {fact.max}."
                )
            ],
            "client.contact_attempts": [
                (
                    f"Must be greater than or equal to {other.min} and "
                    f"less than or equal to {other.max}."
                )
            ],
        }
    else:
        errors = {
            "client.silent_days": ["Not a valid integer."],
            "client.contact_attempts": ["Not a valid integer."],
        }
    assert answer.problem() == invalid(errors)
    h.survives()


def test_duplicate_keys(h):
    for body, key in [
        (b'{"situations":["conflict"],"situations":["client_silent"]}', "situations"),
        (b'{"situations":["conflict"],"client":{"toxic":true,"toxic":false}}', "toxic"),
        (b'{"situations":["conflict"],"x":{"":1,"":1}}', ""),
    ]:
        answer = h.post(body)
        assert answer.status == 400
        assert answer.problem() == malformed(f"Duplicate key {key!r} in an object.")
    h.survives()


def test_a_1mb_string_under_the_body_limit_is_too_long(h):
    answer = h.post(dumps({"situations": ["conflict"], "case_id": "x" * 1_000_000}))
    assert answer.status == 422
    assert answer.problem() == invalid({"case_id": ["Longer than maximum length 128."]})
    answer = h.post(dumps({"situations": ["conflict"], "stage": "\u0416" * 500_000}))
    assert answer.status == 422
    assert answer.problem() == invalid(
        {"stage": ["Must be one of: " + ", ".join(RULEBOOK.facts["stage"].values) + "."]}
    )
    h.survives()


def test_a_1mib_string_is_over_the_body_limit(h):
    body = dumps({"situations": ["conflict"], "case_id": "x" * LIMIT})
    answer = h.post(body)
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    h.survives()


# --- over the body limit, with and without Content-Length ---------------------------------


def limit_body(size: int) -> bytes:
    """A JSON case of exactly `size` bytes (a long case_id: 422 when it is read whole)."""
    head, tail = b'{"situations":["conflict"],"case_id":"', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_over_the_limit_with_content_length(h):
    answer = h.post(limit_body(LIMIT + 1))
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    body = limit_body(50 * LIMIT)
    answer = h.raw(raw_post(GUIDANCE, b"Content-Length: %d\r\n" % len(body), b""), more=body)
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    answer = h.post(limit_body(LIMIT))  # exactly at the limit: read and validated
    assert answer.status == 422 and answer.problem()["errors"] == {
        "case_id": ["Longer than maximum length 128."]
    }
    h.survives()


def test_a_body_over_the_limit_with_content_length_but_none_sent(h):
    """Refused from the header alone: the server does not wait for 100 MB that never come."""
    answer = h.raw(raw_post(GUIDANCE, b"Content-Length: 104857600\r\n", b"{"), timeout=10)
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    h.survives()


@pytest.mark.parametrize("pieces", [1, 64], ids=["one-chunk", "64-chunks"])
def test_a_chunked_body_over_the_limit(h, pieces):
    body = limit_body(LIMIT + 1)
    step = -(-len(body) // pieces)
    answer = h.raw(
        raw_post(
            GUIDANCE,
            b"Transfer-Encoding: chunked\r\n",
            chunked(*[body[i : i + step] for i in range(0, len(body), step)]),
        )
    )
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    answer = h.raw(
        raw_post(GUIDANCE, b"Transfer-Encoding: chunked\r\n", chunked(limit_body(LIMIT)))
    )
    assert answer.status == 422 and answer.problem()["errors"] == {
        "case_id": ["Longer than maximum length 128."]
    }
    h.survives()


def test_a_chunked_body_over_the_limit_whose_client_stops_sending(h):
    """Well over the limit sent, then nothing: refused without waiting for the rest.

    (The read-ahead is gunicorn's: a client that stops a few bytes past the limit, or inside
    the body at all, holds a worker thread until it sends more or goes; see the report.)
    """
    data = raw_post(
        GUIDANCE,
        b"Transfer-Encoding: chunked\r\n",
        b"%x\r\n" % (2 * LIMIT) + limit_body(2 * LIMIT)[: LIMIT + 65536],
    )
    answer = h.raw(data, timeout=10)
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    h.survives()


# --- valid strings that are not plain ------------------------------------------------------

ODD_IDS = [
    "a\u0000b",
    "\u0000" * 128,
    "\u202eRTL override\u202c and \u200fRLM\u200e and \u061cALM",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u2067isolate\u2069",
    "\ufeffbom inside \ufffe and \uffff",
    "\U0001f600 emoji \U0010ffff",
    "line\nbreak\r\ttab\u2028\u2029",
    '\\u0000 and " and </script>',
    ("\u202e\u0000" * 64),  # 128 characters exactly
]


@pytest.mark.parametrize("case_id", ODD_IDS, ids=range(len(ODD_IDS)))
def test_strings_with_nul_and_rtl_marks_are_echoed_exactly(h, case_id):
    assert len(case_id) <= 128
    for ascii_only in (False, True):
        body = json.dumps(
            {"case_id": case_id, "situations": ["conflict"]}, ensure_ascii=ascii_only
        ).encode()
        answer = h.post(body + b"\n" if ascii_only else body)
        assert answer.status == 200 and answer.content_type == "application/json"
        assert answer.json()["case_id"] == case_id
        assert json.loads(answer.body.decode("utf-8"))["case_id"] == case_id
    h.survives()


def test_a_129_character_odd_string_is_too_long(h):
    answer = h.post(dumps({"case_id": "\u202e\u0000" * 64 + "x", "situations": ["conflict"]}))
    assert answer.status == 422
    assert answer.problem() == invalid({"case_id": ["Longer than maximum length 128."]})
    h.survives()


def test_nul_and_rtl_in_values_and_field_names_are_refused_with_their_path(h):
    choices = "Must be one of: " + ", ".join(RULEBOOK.facts["situations"].values) + "."
    answer = h.post(
        dumps(
            {
                "situations": ["conflict\u0000", "\u202econflict"],
                "\u0000": 1,
                "client": {"\u202etoxic": True},
            }
        )
    )
    assert answer.status == 422
    assert answer.problem() == invalid(
        {
            "situations.0": [choices],
            "situations.1": [choices],
            "\u0000": ["Unknown field."],
            "client.\u202etoxic": ["Unknown field; did you mean `toxic`?"],
        }
    )
    h.survives()


# --- the wrong shapes --------------------------------------------------------------------

WRONG = {  # a fact's type: values of other JSON types, and the message each gets
    "boolean": (WRONG_TYPES["boolean"], "Not a valid boolean: expected true or false."),
    "integer": (WRONG_TYPES["integer"], "Not a valid integer."),
    "enum": (WRONG_TYPES["enum"], "Not a valid string."),
    "list": (WRONG_TYPES["list"], "Not a valid list."),
}


def with_fact(name: str, value) -> dict:
    case = {"situations": ["conflict"]}
    if "." in name:
        group, key = name.split(".", 1)
        case[group] = {key: value}
    else:
        case[name] = value
    return case


def test_every_field_with_the_wrong_type(h):
    assert RULEBOOK.facts, "the facts come from the rules: a new fact is covered at once"
    for fact in RULEBOOK.facts.values():
        values, message = WRONG[fact.type]
        for value in values:
            answer = h.post(dumps(with_fact(fact.name, value)))
            assert answer.status == 422, (fact.name, value)
            assert answer.problem() == invalid({fact.name: [message]}), (fact.name, value)
    for value in [5, True, [], {}, 1.5]:
        answer = h.post(dumps({"situations": ["conflict"], "case_id": value}))
        assert answer.problem() == invalid({"case_id": ["Not a valid string."]})
    for items in ([5], [None], [["conflict"]], [{"conflict": True}]):
        answer = h.post(dumps({"situations": items}))
        expected = "Field may not be null." if items == [None] else "Not a valid string."
        assert answer.problem() == invalid({"situations.0": [expected]}), items
    answer = h.post(dumps({"situations": None}))
    assert answer.problem() == invalid({"situations": ["Field may not be null."]})
    h.survives()


def test_every_field_with_the_wrong_type_at_once(h):
    case, errors = {"case_id": 7}, {"case_id": ["Not a valid string."]}
    for fact in RULEBOOK.facts.values():
        values, message = WRONG[fact.type]
        if fact.group:
            case.setdefault(fact.group, {})[fact.key] = values[0]
        else:
            case[fact.name] = values[0]
        errors[fact.name] = [message]
    answer = h.post(dumps(case))
    assert answer.status == 422 and answer.problem() == invalid(errors)
    h.survives()


def test_arrays_and_scalars_where_objects_belong(h):
    groups = sorted({fact.group for fact in RULEBOOK.facts.values() if fact.group})
    assert groups
    for root in [[], [{"situations": ["conflict"]}], "case", 5, True, None]:
        answer = h.post(dumps(root))
        assert answer.status == 422
        assert answer.problem() == invalid({"$": ["Expected a JSON object."]})
    for group in groups:
        for value in [[], [{"x": 1}], "x", 5, True]:
            answer = h.post(dumps({"situations": ["conflict"], group: value}))
            assert answer.status == 422
            assert answer.problem() == invalid({group: ["Expected a JSON object."]})
    h.survives()


def test_10000_unknown_fields(h):
    fields = {f"field_{i}": i for i in range(10_000)}
    answer = h.post(dumps({"situations": ["conflict"], **fields}))
    assert answer.status == 422
    assert answer.problem() == invalid({name: ["Unknown field."] for name in fields})
    answer = h.post(dumps({"situations": ["conflict"], "client": fields}))
    assert answer.status == 422
    assert answer.problem() == invalid({f"client.{name}": ["Unknown field."] for name in fields})
    h.survives()


def test_a_wrong_content_type(h):
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        ";;;===",
        "application/jsonx",
        "multipart/form-data; boundary=x",
    ]:
        answer = h.post(dumps(NORMAL), content_type=content_type)
        assert answer.status == 415 and answer.problem()["title"] == "Unsupported media type"
    h.survives()


# --- the same through the batch endpoint ---------------------------------------------------


def batch_entry(index: int, problem_body: dict, case_id=None) -> dict:
    return {
        "index": index,
        "case_id": case_id,
        "status": problem_body["status"],
        "problem": problem_body,
    }


def strip_request_ids(results: list, request_id: str) -> list:
    for result in results:
        if "problem" in result:
            assert result["problem"].pop("request_id") == request_id
    return results


def test_hostile_cases_in_a_json_batch_each_get_their_own_problem(h, app):
    odd = "\u202e\u0000 odd"
    cases = [
        NORMAL,
        [NORMAL],
        "case",
        None,
        {"situations": ["conflict"], **{f"f{i}": i for i in range(10_000)}},
        {"situations": ["client_silent"], "client": {"silent_days": 5.0}},
        {"situations": ["conflict"], "case_id": "x" * 500_000},
        {"situations": ["conflict"], "case_id": odd, "contract": 1},
        {"situations": ["conflict"], "client": []},
        {"case_id": odd, "situations": ["conflict"]},
    ]
    body = dumps({"cases": cases}).replace(b'"silent_days": 5.0', b'"silent_days": 1e400')
    answer = h.post(body, path=BATCH)
    assert answer.status == 200 and answer.content_type == "application/json"
    got = answer.json()
    check(BATCH, "post", 200, answer.content_type, got)
    results = strip_request_ids(got["results"], answer.headers["x-request-id"])
    client = app.test_client()
    single = client.post(GUIDANCE, json=NORMAL).get_json()
    assert results[0] == {"index": 0, "case_id": "after", "status": 200, "guidance": single}
    root = invalid({"$": ["Expected a JSON object."]})
    assert results[1:4] == [batch_entry(1, root), batch_entry(2, root), batch_entry(3, root)]
    assert results[4] == batch_entry(
        4, invalid({f"f{i}": ["Unknown field."] for i in range(10_000)})
    )
    assert results[5] == batch_entry(5, invalid({"client.silent_days": ["Not a valid integer."]}))
    assert results[6] == batch_entry(6, invalid({"case_id": ["Longer than maximum length 128."]}))
    assert results[7] == batch_entry(
        7, invalid({"contract": ["Not a valid boolean: expected true or false."]}), case_id=odd
    )
    assert results[8] == batch_entry(8, invalid({"client": ["Expected a JSON object."]}))
    assert results[9]["case_id"] == odd and results[9]["guidance"]["case_id"] == odd
    assert got["summary"]["cases"] == 10 and got["summary"]["errors"] == 8
    h.survives()


@pytest.mark.parametrize(
    "body, detail",
    [
        (b'{"cases":[' + b"[" * 100_000 + b"]}", "The JSON is nested too deeply."),
        (b'{"cases":[{"situations":["conflict"],"x":NaN}]}', "NaN is not a JSON number."),
        (
            b'{"cases":[{"situations":["conflict"],"x":-Infinity}]}',
            "-Infinity is not a JSON number.",
        ),
        (b'{"cases":[{"x":1' + b"0" * 1000 + b"}]}", "A number with 1001 digits is too long."),
        (
            b'{"cases":[{"situations":["conflict"],"situations":[]}]}',
            "Duplicate key 'situations' in an object.",
        ),
        (b'{"cases":[],"cases":[]}', "Duplicate key 'cases' in an object."),
        (b'{"cases":[{"case_id":"\xff"}]}', "The body is not valid UTF-8 (byte 22)."),
    ],
    ids=["deep", "nan", "infinity", "10**1000", "duplicate-in-case", "duplicate-cases", "utf8"],
)
def test_a_malformed_json_batch_is_malformed_as_a_whole(h, body, detail):
    """A JSON document that does not parse cannot be split into cases: 400 for the batch."""
    answer = h.post(body, path=BATCH)
    assert answer.status == 400 and answer.problem() == malformed(detail)
    h.survives()


def test_a_json_batch_of_the_wrong_shape(h):
    shapes = [
        ([], {"$": ["Expected a JSON object."]}),
        ({"cases": {}}, {"cases": ["Not a valid list."]}),
        ({"cases": "x"}, {"cases": ["Not a valid list."]}),
        ({}, {"cases": ["Missing data for required field."]}),
        (
            {"cases": [], **{f"f{i}": 1 for i in range(10_000)}},
            {f"f{i}": ["Unknown field."] for i in range(10_000)},
        ),
    ]
    for body, errors in shapes:
        answer = h.post(dumps(body), path=BATCH)
        assert answer.status == 422
        assert answer.problem() == problem(
            422,
            "Invalid batch",
            'The body must be {"cases": [...]}; see `errors`.',
            "batch-validation",
            errors,
        )
    h.survives()


def test_a_json_batch_over_the_body_limit(h):
    body = b'{"cases":[{"situations":["conflict"],"case_id":"' + b"x" * LIMIT + b'"}]}'
    answer = h.post(body, path=BATCH)
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    answer = h.raw(
        raw_post(BATCH, b"Transfer-Encoding: chunked\r\n", chunked(body[:1000], body[1000:]))
    )
    assert answer.status == 413 and answer.problem() == TOO_LARGE
    h.survives()


def test_hostile_ndjson_lines_each_get_their_own_problem(h, app):
    odd = "a\u0000b\u202ec\u200f"
    lines = [
        dumps(NORMAL),  # 1
        b"[" * 60_000,  # 2
        b"[" * 100_000,  # 3: over the line limit
        b'{"situations":["conflict"],"x":NaN}',  # 4
        b'{"situations":["conflict"],"x":Infinity}',  # 5
        b'{"situations":["client_silent"],"client":{"silent_days":1e400}}',  # 6
        b'{"x":1' + b"0" * 1000 + b"}",  # 7
        b'{"situations":["client_silent"],"client":{"silent_days":5.0}}',  # 8
        b'{"situations":["conflict"],"situations":["conflict"]}',  # 9
        b'{"case_id":"\xff\xfe","situations":["conflict"]}',  # 10
        b"",  # 11: skipped
        dumps({"situations": ["conflict"], "case_id": "x" * 60_000}),  # 12
        dumps({"situations": ["conflict"], "case_id": odd}),  # 13
        dumps([NORMAL]),  # 14
        dumps({"situations": ["conflict"], "client": [1]}),  # 15
        dumps({"situations": ["conflict"], **{f"f{i}": 1 for i in range(5000)}}),  # 16
        b"{not json",  # 17
        b"x" * (MAX_LINE * 20),  # 18: over the limit
        dumps(NORMAL),  # 19, no line break
    ]
    answer = h.post(b"\n".join(lines), path=BATCH, content_type=NDJSON)
    assert answer.status == 200 and answer.content_type == NDJSON
    got = answer.lines()
    for line in got:
        check_line(BATCH, line)
    summary = got.pop()
    results = strip_request_ids(got, answer.headers["x-request-id"])
    single = app.test_client().post(GUIDANCE, json=NORMAL).get_json()

    def bad(line, body, case_id=None):
        return {"line": line, "case_id": case_id, "status": body["status"], "problem": body}

    def at(line, body):
        return bad(line, {**body, "detail": f"Line {line}: {body['detail']}"})

    long_line = problem(413, "Line too long", "", "line-too-long")
    assert [r["line"] for r in results] == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
    ]
    by_line = {r["line"]: r for r in results}
    assert by_line[1] == {"line": 1, "case_id": "after", "status": 200, "guidance": single}
    assert by_line[2] == at(2, malformed("The JSON is nested too deeply."))
    assert by_line[3] == bad(
        3, {**long_line, "detail": f"Line 3 is longer than {MAX_LINE} bytes; it was skipped."}
    )
    assert by_line[4] == at(4, malformed("NaN is not a JSON number."))
    assert by_line[5] == at(5, malformed("Infinity is not a JSON number."))
    assert by_line[6] == bad(6, invalid({"client.silent_days": ["Not a valid integer."]}))
    assert by_line[7] == at(7, malformed("A number with 1001 digits is too long."))
    assert by_line[8] == bad(8, invalid({"client.silent_days": ["Not a valid integer."]}))
    assert by_line[9] == at(9, malformed("Duplicate key 'situations' in an object."))
    assert by_line[10] == at(10, malformed("The body is not valid UTF-8 (byte 12)."))
    assert by_line[12] == bad(12, invalid({"case_id": ["Longer than maximum length 128."]}))
    assert by_line[13]["case_id"] == odd and by_line[13]["guidance"]["case_id"] == odd
    assert by_line[14] == bad(14, invalid({"$": ["Expected a JSON object."]}))
    assert by_line[15] == bad(15, invalid({"client": ["Expected a JSON object."]}))
    assert by_line[16] == bad(16, invalid({f"f{i}": ["Unknown field."] for i in range(5000)}))
    assert by_line[17]["status"] == 400 and by_line[17]["problem"]["detail"].startswith(
        "Line 17: Malformed JSON at column 2"
    )
    assert by_line[18] == bad(
        18, {**long_line, "detail": f"Line 18 is longer than {MAX_LINE} bytes; it was skipped."}
    )
    assert by_line[19] == {"line": 19, "case_id": "after", "status": 200, "guidance": single}
    assert summary["summary"]["cases"] == 18 and summary["summary"]["errors"] == 15
    h.survives()


def test_an_ndjson_body_chunked_in_odd_places(h):
    """Lines split across chunks, and chunks holding many lines, read as the same lines."""
    body = (
        b"\n".join([dumps({"case_id": f"c{i}", "situations": ["conflict"]}) for i in range(30)])
        + b"\n"
    )
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    answer = h.raw(
        raw_post(
            BATCH, b"Transfer-Encoding: chunked\r\n", chunked(*pieces), content_type=NDJSON.encode()
        )
    )
    assert answer.status == 200
    got = answer.lines()
    assert [r["case_id"] for r in got[:-1]] == [f"c{i}" for i in range(30)]
    assert got[-1]["summary"]["evaluated"] == 30
    h.survives()


def test_a_broken_chunked_ndjson_body_ends_the_stream_with_a_problem_line(h):
    data = raw_post(
        BATCH,
        b"Transfer-Encoding: chunked\r\n",
        b"%x\r\n%s\n\r\nzz\r\n" % (len(dumps(NORMAL)) + 1, dumps(NORMAL)),
        content_type=NDJSON.encode(),
    )
    answer = h.raw(data)
    assert answer.status == 200
    *results, last = answer.lines()
    # Line 1 is answered unless the server's read-ahead met the broken chunk first.
    assert [(r["line"], r["status"]) for r in results] in ([(1, 200)], [])
    assert last["problem"].pop("request_id") == answer.headers["x-request-id"]
    assert last == {
        "line": None,
        "case_id": None,
        "status": 400,
        "problem": problem(
            400,
            "Bad request",
            "The request body could not be read to its end; the results above "
            "are complete, no summary follows.",
            "bad-request",
        ),
    }
    h.survives()


# --- HTTP itself: HTTP/1.0 and malformed requests (raw sockets) ----------------------------

CASE = dumps(NORMAL)
LENGTH = b"Content-Length: %d\r\n" % len(CASE)


@pytest.mark.parametrize(
    "data",
    [
        raw_post(GUIDANCE, LENGTH, CASE, version=b"HTTP/1.0"),
        raw_post(GUIDANCE, LENGTH, CASE, version=b"HTTP/1.0", host=False),
        raw_post(GUIDANCE, LENGTH + b"Connection: keep-alive\r\n", CASE, version=b"HTTP/1.0"),
        raw_post(GUIDANCE, LENGTH + b"Expect: 100-continue\r\n", CASE),
        raw_post(GUIDANCE, LENGTH + b"X-Latin1: \xff\xfe\r\n", CASE),
        raw_post(GUIDANCE, LENGTH + b"Accept-Language: ;q=zz,,,*;q=-1,\xff\r\n", CASE),
        raw_post(
            GUIDANCE,
            b"Transfer-Encoding: chunked\r\n",
            b"%x;ext=1\r\n%s\r\n0\r\n\r\n" % (len(CASE), CASE),
        ),
    ],
    ids=[
        "http-1.0",
        "http-1.0-no-host",
        "http-1.0-keep-alive",
        "expect-100",
        "latin-1-header",
        "garbage-accept-language",
        "chunk-extension",
    ],
)
def test_odd_but_valid_http_is_answered(h, data, app):
    answer = h.raw(data)
    assert answer.status == 200
    assert answer.json() == app.test_client().post(GUIDANCE, json=NORMAL).get_json()
    if data.split(b"\r\n")[0].endswith(b"HTTP/1.0"):
        assert answer.version == 10
    h.survives()


def test_http_1_0_without_content_length_has_no_body(h):
    answer = h.raw(raw_post(GUIDANCE, b"", CASE, version=b"HTTP/1.0"))
    assert answer.status == 400 and answer.version == 10
    assert answer.problem() == malformed("Malformed JSON at line 1, column 1: Expecting value.")
    h.survives()


# gunicorn refuses these before the app sees them; service/worker.py makes its answer a
# problem too (no request id: the app never saw the request). name: request, status, detail
MALFORMED_HTTP = {
    "http-0.9": (
        b"GET /healthz\r\n\r\n",
        400,
        "Invalid Request Line 'Invalid HTTP request line: 'GET /healthz''",
    ),
    "no-colon": (
        raw_post(GUIDANCE, LENGTH + b"NoColonHere\r\n", CASE),
        400,
        "Invalid HTTP Header: 'NoColonHere'",
    ),
    "space-in-name": (
        raw_post(GUIDANCE, LENGTH + b"Bad Name: v\r\n", CASE),
        400,
        "Invalid HTTP header name: 'Bad Name'",
    ),
    "nul-in-value": (
        raw_post(GUIDANCE, LENGTH + b"X-Nul: a\x00b\r\n", CASE),
        400,
        "Invalid HTTP Header: 'X-NUL'",
    ),
    "obsolete-folding": (
        raw_post(GUIDANCE, LENGTH + b"X-Fold: a\r\n b\r\n", CASE),
        400,
        "Obsolete line folding is unacceptable: 'X-FOLD'",
    ),
    "bare-lf": (
        raw_post(GUIDANCE, LENGTH, CASE).replace(b"\r\n", b"\n"),
        400,
        "Invalid Request Line 'Invalid HTTP request line: 'bare LF as line terminator''",
    ),
    "content-length-text": (
        raw_post(GUIDANCE, b"Content-Length: abc\r\n", CASE),
        400,
        "Invalid HTTP Header: 'CONTENT-LENGTH'",
    ),
    "content-length-negative": (
        raw_post(GUIDANCE, b"Content-Length: -5\r\n", CASE),
        400,
        "Invalid HTTP Header: 'CONTENT-LENGTH'",
    ),
    "two-content-lengths": (
        raw_post(GUIDANCE, LENGTH + b"Content-Length: 3\r\n", CASE),
        400,
        "Invalid HTTP Header: 'CONTENT-LENGTH'",
    ),
    "content-length-and-chunked": (
        raw_post(GUIDANCE, LENGTH + b"Transfer-Encoding: chunked\r\n", chunked(CASE)),
        400,
        "Invalid HTTP Header: 'CONTENT-LENGTH'",
    ),
    "unknown-transfer-encoding": (
        raw_post(GUIDANCE, b"Transfer-Encoding: gzip\r\n", CASE),
        400,
        "Invalid HTTP Header: 'TRANSFER-ENCODING'",
    ),
    "http-1.0-chunked": (
        raw_post(GUIDANCE, b"Transfer-Encoding: chunked\r\n", chunked(CASE), version=b"HTTP/1.0"),
        400,
        "Invalid HTTP Header: 'TRANSFER-ENCODING'",
    ),
    "bad-method": (
        b"P@ST /v1/guidance HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        "Invalid Method 'Invalid HTTP method: 'P@ST''",
    ),
    "bad-version": (
        raw_post(GUIDANCE, LENGTH, CASE, version=b"HTTP/9.9"),
        400,
        "Invalid HTTP Version 'Invalid HTTP Version: (9, 9)'",
    ),
    "request-line-only-method": (
        b"POST\r\n\r\n",
        400,
        "Invalid Request Line 'Invalid HTTP request line: 'POST''",
    ),
    "header-20kb": (
        raw_post(GUIDANCE, LENGTH + b"X-Big: " + b"a" * 20_000 + b"\r\n", CASE),
        431,
        "Error parsing headers: 'limit request headers fields size'",
    ),
    "200-headers": (
        raw_post(GUIDANCE, LENGTH + b"".join(b"X-H%d: v\r\n" % i for i in range(200)), CASE),
        431,
        "Error parsing headers: 'limit request headers fields'",
    ),
    "path-10kb": (
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
        "Request Line is too large (8192 > 4094)",
    ),
}
REASONS = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


@pytest.mark.parametrize("name", MALFORMED_HTTP)
def test_malformed_http_is_a_problem_and_the_worker_survives(h, name):
    data, status, detail = MALFORMED_HTTP[name]
    answer = h.raw(data)
    assert answer.status == status and answer.content_type == PROBLEM
    assert answer.headers.get("connection") == "close"
    assert answer.json() == {
        "type": "about:blank",
        "title": REASONS[status],
        "status": status,
        "detail": detail,
    }
    h.survives()


# --- regression tests for what these suites found (fixed: service/worker.py, read_body,
# jsonio's lone surrogates, the contract of GET /openapi.yaml) -------------------------------


def unreadable(detail: str) -> dict:
    return problem(400, "Unreadable body", detail, "unreadable-body")


@pytest.mark.parametrize("path", [GUIDANCE, BATCH])
@pytest.mark.parametrize(
    "body, error",
    [
        (b"zz\r\n" + CASE + b"\r\n0\r\n\r\n", "InvalidChunkSize"),
        (b"ffffffffffffffffffff\r\n" + CASE + b"\r\n0\r\n\r\n", "NoMoreData"),
        (b"%x\r\n%sXX0\r\n\r\n" % (len(CASE), CASE), "ChunkMissingTerminator"),
        (
            b"%x\r\n%s\r\n" % (len(CASE), CASE),
            "NoMoreData",
        ),  # no last chunk: the client half-closes
    ],
    ids=["chunk-size-not-hex", "chunk-size-huge", "no-chunk-terminator", "no-last-chunk"],
)
def test_a_malformed_chunked_body_is_a_400_not_a_500(h, path, body, error):
    answer = h.raw(raw_post(path, b"Transfer-Encoding: chunked\r\n", body), half_close=True)
    assert answer.status == 400
    assert answer.problem() == unreadable(f"The request body could not be read: {error}.")
    h.survives()


def test_a_body_shorter_than_its_content_length_is_not_taken_as_whole(h, app):
    body = CASE + b"\n"
    declared = len(body) + 100
    answer = h.raw(raw_post(GUIDANCE, b"Content-Length: %d\r\n" % declared, body), half_close=True)
    assert answer.status == 400
    assert answer.problem() == unreadable(
        f"The body ended after {len(body)} of the {declared} bytes its Content-Length announced."
    )
    batch = b'{"cases":[' + CASE + b"]}"
    answer = h.raw(
        raw_post(BATCH, b"Content-Length: %d\r\n" % (len(batch) + 1), batch), half_close=True
    )
    assert answer.status == 400
    assert answer.problem() == unreadable(
        f"The body ended after {len(batch)} of the {len(batch) + 1} bytes its Content-Length "
        "announced."
    )
    # NDJSON: the lines that did arrive are answered, then no summary: the answer says so.
    answer = h.raw(
        raw_post(BATCH, b"Content-Length: %d\r\n" % declared, body, content_type=NDJSON.encode()),
        half_close=True,
    )
    assert answer.status == 200
    first, last = answer.lines()
    single = app.test_client().post(GUIDANCE, json=NORMAL).get_json()
    assert first == {"line": 1, "case_id": "after", "status": 200, "guidance": single}
    assert last["problem"].pop("request_id") == answer.headers["x-request-id"]
    assert last == {
        "line": None,
        "case_id": None,
        "status": 400,
        "problem": problem(
            400,
            "Bad request",
            "The request body could not be read to its end; the results above "
            "are complete, no summary follows.",
            "bad-request",
        ),
    }
    h.survives()


def lone(code: str) -> str:
    return f"A string holds a lone surrogate \\u{code}: not a Unicode character."


@pytest.mark.parametrize(
    "body, path, code",
    [
        ('{"situations":["conflict"],"case_id":"\\ud800"}', GUIDANCE, "d800"),
        ('{"situations":["conflict"],"case_id":"a\\uDFFFb"}', GUIDANCE, "dfff"),
        ('{"situations":["conflict"],"\\ud800":1}', GUIDANCE, "d800"),
        ('{"situations":["conflict"],"client":{"\\udc00":true}}', GUIDANCE, "dc00"),
        ('{"situations":["conflict"],"case_id":"\\ude00\\ud83d"}', GUIDANCE, "de00"),  # reversed
        ('{"cases":[{"situations":["conflict"],"case_id":"\\ud800"}]}', BATCH, "d800"),
        ('{"cases":[],"\\ud800":1}', BATCH, "d800"),
    ],
    ids=[
        "case_id",
        "case_id-inside",
        "unknown-field",
        "nested-unknown-field",
        "reversed-pair",
        "batch-case_id",
        "batch-unknown-field",
    ],
)
def test_a_lone_surrogate_escape_is_malformed_not_a_500(h, body, path, code):
    answer = h.post(body.encode("ascii"), path=path)
    assert answer.status == 400 and answer.problem() == malformed(lone(code))
    h.survives()


def test_a_lone_surrogate_escape_in_an_ndjson_line_is_that_line_s_problem(h):
    body = (
        b'{"situations":["conflict"]}\n{"situations":["conflict"],"case_id":"\\ud800"}\n'
        b'{"situations":["conflict"]}\n'
    )
    answer = h.post(body, path=BATCH, content_type=NDJSON)
    assert answer.status == 200
    lines = answer.lines()  # the whole stream arrives
    assert [line.get("status") for line in lines] == [200, 400, 200, None]
    assert lines[1]["problem"].pop("request_id") == answer.headers["x-request-id"]
    assert lines[1] == {
        "line": 2,
        "case_id": None,
        "status": 400,
        "problem": malformed(f"Line 2: {lone('d800')}"),
    }
    assert lines[-1]["summary"]["errors"] == 1
    h.survives()


def test_a_valid_surrogate_pair_escape_is_one_character(h):
    answer = h.post(b'{"situations":["conflict"],"case_id":"\\ud83d\\ude00"}')
    assert answer.status == 200 and answer.json()["case_id"] == "\U0001f600"
    h.survives()


def test_the_contract_document_matches_its_own_declared_schema(h):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    try:
        conn.request("GET", "/openapi.yaml")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200
    check("/openapi.yaml", "get", 200, response.getheader("Content-Type"), yaml.safe_load(body))


def operations() -> list[tuple[str, str]]:
    return [
        (path, method.upper())
        for path, item in spec()["paths"].items()
        for method in item
        if method in ("get", "post")
    ]


@pytest.mark.parametrize("path, method", operations(), ids=[f"{m} {p}" for p, m in operations()])
def test_gunicorn_s_own_refusals_are_in_the_contract(h, path, method):
    """Found by test_fuzz.py (a randomized run): a long query string on GET /v1/steps."""
    head = f"{method} {path}?pad={'a' * 5000} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    long_query = h.raw(head.encode())
    big = f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * 9000}\r\nContent-Length: 0\r\n\r\n"
    big_header = h.raw(big.encode())
    h.survives()
    assert (long_query.status, big_header.status) == (414, 431)
    for answer in (long_query, big_header):
        assert answer.json() == {
            "type": "about:blank",
            "title": REASONS[answer.status],
            "status": answer.status,
            "detail": answer.json()["detail"],
        }
        check(path, method.lower(), answer.status, answer.content_type, answer.json())


# --- a client that stops sending (slowloris) ---------------------------------------------------

STALLED = {
    "in-the-headers": b"POST /v1/guidance HTTP/1.1\r\nHost: x\r\nContent-Ty",
    "in-the-body": (
        b"POST /v1/guidance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"situa'
    ),
}


def test_a_client_that_stalls_in_its_headers_gets_a_408_and_frees_the_thread():
    """One worker, one thread: while it waited for the stalled client nobody was answered."""
    srv = Server(workers=1, threads=1, env={"DISPUTE_GUIDE_READ_TIMEOUT": "2"}).start()
    stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        stalled.sendall(STALLED["in-the-headers"])
        (worker,) = srv.workers()
        wait_for(lambda: holds(worker, stalled), 30, 0.01, "the worker to take the connection")
        answer = post(srv.port, GUIDANCE, dumps(NORMAL), timeout=10)
        assert answer.status == 200
        refused = http.client.HTTPResponse(stalled)
        refused.begin()
        assert refused.status == 408 and refused.getheader("Content-Type") == PROBLEM
        assert refused.getheader("Connection") == "close"
        assert json.loads(refused.read()) == {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": "The request's headers stopped arriving; the connection is closed.",
        }
    finally:
        stalled.close()
        srv.stop()


def test_a_client_that_stalls_in_its_body_gets_a_400_and_frees_the_thread():
    srv = Server(workers=1, threads=1, env={"DISPUTE_GUIDE_READ_TIMEOUT": "2"}).start()
    stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        stalled.sendall(STALLED["in-the-body"])
        (worker,) = srv.workers()
        wait_for(lambda: holds(worker, stalled), 30, 0.01, "the worker to take the connection")
        answer = post(srv.port, GUIDANCE, dumps(NORMAL), timeout=10)
        assert answer.status == 200  # the thread was freed after READ_TIMEOUT
        refused = http.client.HTTPResponse(stalled)
        refused.begin()
        body = json.loads(refused.read())
        assert refused.status == 400 and refused.getheader("Content-Type") == PROBLEM
        assert body["type"] == TYPE + "unreadable-body" and body["title"] == "Unreadable body"
        assert refused.getheader("Connection") == "close"
    finally:
        stalled.close()
        srv.stop()


def test_a_long_keep_alive_connection_is_served_to_the_end(h):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    statuses = []
    try:
        for _ in range(2500):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            assert response.getheader("Connection") != "close", len(statuses)
    finally:
        conn.close()
    assert statuses == [200] * 2500
    h.survives()
