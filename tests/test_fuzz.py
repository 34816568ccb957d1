"""Contract fuzzing: schemathesis, driven by openapi.yaml, against the real gunicorn server.

Every operation in openapi.yaml (whatever the file holds when the test runs: a new endpoint
is fuzzed as soon as `make openapi` adds it) gets a few hundred generated requests, valid
and invalid (schemathesis' positive and negative modes), and every answer must be:
not a 5xx, a status the contract lists for the operation, a content type the contract
lists for that status, headers and a body matching their schemas (for NDJSON: every line);
a request the contract calls invalid must be refused (4xx), an unsupported method
answered 405 with its Allow header. Every check schemathesis has runs, except
positive_data_acceptance: a request valid for the contract may still be refused, since
the contract cannot say everything the server checks (a batch over the case limit, a
string holding a lone surrogate escape).

The server is one of its own: after the run, its log must show no crashed, restarted or
timed-out worker and no traceback. A failure found here becomes a regression test in
test_hostile.py.

FUZZ_EXAMPLES=2000 FUZZ_SEED=random make test PYTEST_ARGS=tests/test_fuzz.py runs a longer,
randomized search (the CI run is derandomized: the same requests every time).
"""

from __future__ import annotations

import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from tests.support.contract import check_line
from tests.support.server import ROOT, Server

pytestmark = pytest.mark.server

NDJSON = "application/x-ndjson"
BATCH = "/v1/guidance/batch"
load_all_checks()
CHECK_NAMES = [name for name in CHECKS.get_all_names() if name != "positive_data_acceptance"]
FUZZ_CHECKS = CHECKS.get_by_names(CHECK_NAMES)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
RANDOM = os.environ.get("FUZZ_SEED", "") == "random"
# The worker log lines that mean something went wrong under the fuzzing.
BAD_SIGNS = (
    "SIGSEGV",
    "SIGABRT",
    "SIGKILL",
    "Worker exiting",
    "WORKER TIMEOUT",
    "Traceback",
    "unexpected_error",
    "engine_error",
    "Booting worker",
)

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schemathesis.serializer(NDJSON)
def _ndjson_lines(ctx, value):
    """The contract gives one case as the NDJSON request schema: send it as one line."""
    return {"data": (json.dumps(value, ensure_ascii=False) + "\n").encode("utf-8")}


@schemathesis.deserializer(NDJSON)
def _last_ndjson_line(ctx, response):
    """Schemathesis validates one value: give it the last line (every line is checked below)."""
    lines = response.content.decode("utf-8").splitlines()
    return json.loads(lines[-1]) if lines else None


SEEN: dict[str, set] = {}  # operation: the statuses it answered
NDJSON_ANSWERS: list[int] = []  # lines in each NDJSON answer checked


@pytest.fixture(scope="module")
def fuzz_server():
    srv = Server(workers=2, threads=4).start()
    booted = srv.output().count("Booting worker")
    yield srv
    # The generated requests reached both sides of validation, and NDJSON was read line by line.
    for label, statuses in SEEN.items():
        if label.startswith("POST "):
            assert 200 in statuses and statuses & {400, 422}, (label, statuses)
    if f"POST {BATCH}" in SEEN:
        assert NDJSON_ANSWERS, "no NDJSON answer was checked"
    output = srv.stop()
    assert output.count("Booting worker") == booted, f"a worker was replaced:\n{output[-4000:]}"
    for sign in BAD_SIGNS[:-1]:
        assert sign not in output, f"gunicorn logged {sign!r} while fuzzing:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


def call_and_check(case, server, session):
    response = case.call_and_validate(
        base_url=server.url, session=session, checks=FUZZ_CHECKS, timeout=30
    )
    SEEN.setdefault(f"{case.operation.method.upper()} {case.operation.path}", set()).add(
        response.status_code
    )
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip() == NDJSON:
        lines = [json.loads(line) for line in response.content.decode("utf-8").splitlines()]
        assert lines and "summary" in lines[-1], "an NDJSON answer must end with its summary"
        for line in lines:
            check_line(case.path, line)
        NDJSON_ANSWERS.append(len(lines))
    return response


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_keeps_its_contract(case, fuzz_server, session):
    call_and_check(case, fuzz_server, session)
