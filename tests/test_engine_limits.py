"""The engine's own limits stay unreachable under concurrent requests.

durable_rules caps live sessions at 1,024 per ruleset, tells sessions apart by a 32-bit
hash of the sid, and segfaults when its timer threads race (docs/engine.md).
The adapter holds one session at a time per ruleset and deletes it in `finally`. Proved here:

- over HTTP, against gunicorn with threaded workers: thousands of concurrent requests (more
  than the cap per worker), each answer equal to the single-threaded in-process answer for
  the same facts, and the evaluation count in /metrics equal to the cases sent;
- in-process, through a threaded WSGI server, with the C module watched: never more than one
  live session, none left behind (the engine's `live_sessions` and the C calls agree), also
  when the engine fails in the middle of a case.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from cases import RULEBOOK, consistent, nest
from conftest import Server
from werkzeug.serving import make_server

import service.engine
from service import create_app
from service.engine import flatten

pytestmark = pytest.mark.server

GUIDANCE = "/v1/guidance"
BATCH = "/v1/guidance/batch"
SESSION_CAP = 1024


def random_case(rng: random.Random, index: int) -> dict:
    """A valid case over the rulebook's facts: each optional fact known or not, at random."""
    case: dict = {"case_id": f"case-{index}"}
    for fact in RULEBOOK.facts.values():
        if not fact.required and rng.random() < 0.5:
            continue
        if fact.type == "boolean":
            value = rng.random() < 0.5
        elif fact.type == "enum":
            value = rng.choice(fact.values)
        elif fact.type == "integer":
            cuts = RULEBOOK.cuts.get(fact.name, ())
            edges = [v for c in cuts for v in (c - 1, c)] + [fact.min, fact.max]
            value = rng.choice(edges) if rng.random() < 0.5 else rng.randint(fact.min, fact.max)
        else:
            value = rng.sample(fact.values, rng.randint(1, len(fact.values)))
        if fact.group:
            case.setdefault(fact.group, {})[fact.key] = value
        else:
            case[fact.name] = value
    return case


def make_cases(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    cases = [random_case(rng, i) for i in range(count)]
    return [{"case_id": c["case_id"], **nest(consistent(flatten(c)))} for c in cases]


def single_threaded_answers(app, cases: list[dict], query: str = "") -> list[dict]:
    client = app.test_client()
    answers = []
    for case in cases:
        response = client.post(GUIDANCE + query, json=case)
        assert response.status_code == 200
        answers.append(response.get_json())
    return answers


class Connections:
    """One keep-alive connection per client thread; all closed at the end."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()
        self.all: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for conn in self.all:
            conn.close()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                self.all.append(conn)
        return conn

    def post(self, path: str, body, content_type: str = "application/json"):
        data = json.dumps(body).encode() if content_type == "application/json" else body
        conn = self._conn()
        for attempt in (1, 2):
            try:
                conn.request("POST", path, body=data, headers={"Content-Type": content_type})
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.RemoteDisconnected):
                # The server closed an idle keep-alive connection: open a new one once.
                conn.close()
                if attempt == 2:
                    raise


def metric(url: str, name: str) -> float:
    text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# --- over HTTP: gunicorn, 2 workers x 4 threads ----------------------------------------------


@pytest.fixture(scope="module")
def threaded_server():
    srv = Server(workers=2, threads=4).start()
    yield srv
    output = srv.stop()
    for sign in (
        "Traceback",
        "engine_error",
        "unexpected_error",
        "SIGSEGV",
        "WORKER TIMEOUT",
        "Worker exiting",
    ):
        assert sign not in output, f"gunicorn logged {sign!r}:\n{output[-3000:]}"


def test_concurrent_requests_each_get_the_single_threaded_answer(threaded_server, app):
    # More cases than the session cap per worker: a leaked session per request would hit it.
    cases = make_cases(1300, seed=20261127)
    expected = single_threaded_answers(app, cases)
    work = [i for i in range(len(cases)) for _ in range(2)]
    random.Random(1).shuffle(work)
    before = metric(threaded_server.url, "dispute_guide_evaluations_total")

    with Connections(threaded_server.port) as local, ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: (i, *local.post(GUIDANCE, cases[i])), work))
    results = [(i, status, json.loads(raw)) for i, status, raw in results]
    mixed = [(i, status) for i, status, body in results if status != 200 or body != expected[i]]
    assert not mixed, f"{len(mixed)} answers differ from the single-threaded ones: {mixed[:5]}"
    after = metric(threaded_server.url, "dispute_guide_evaluations_total")
    assert after - before == len(work)
    assert metric(threaded_server.url, "dispute_guide_engine_errors_total") == 0


def test_concurrent_batches_and_single_cases_do_not_mix(threaded_server, app):
    """JSON and NDJSON batches, interleaved with single cases, in Russian and without questions."""
    cases = make_cases(400, seed=7)
    expected = single_threaded_answers(app, cases, "?lang=ru&questions=false")
    groups = [list(range(start, start + 20)) for start in range(0, len(cases), 20)]
    query = "?lang=ru&questions=false"

    def one(job):
        kind, indexes = job
        if kind == "single":
            status, raw = local.post(GUIDANCE + query, cases[indexes[0]])
            return [(indexes[0], json.loads(raw))] if status == 200 else [(indexes[0], status)]
        if kind == "json":
            status, raw = local.post(BATCH + query, {"cases": [cases[i] for i in indexes]})
            assert status == 200
            return [
                (i, r["guidance"])
                for i, r in zip(indexes, json.loads(raw)["results"], strict=False)
            ]
        body = b"".join(json.dumps(cases[i]).encode() + b"\n" for i in indexes)
        status, raw = local.post(BATCH + query, body, "application/x-ndjson")
        assert status == 200
        lines = [json.loads(line) for line in raw.splitlines()]
        assert lines[-1]["summary"]["evaluated"] == len(indexes)
        return [(i, r["guidance"]) for i, r in zip(indexes, lines[:-1], strict=False)]

    jobs = [("single", [i]) for i in range(len(cases))] + [
        (kind, group) for group in groups for kind in ("json", "ndjson")
    ]
    random.Random(2).shuffle(jobs)
    with Connections(threaded_server.port) as local, ThreadPoolExecutor(32) as pool:
        answered = [pair for pairs in pool.map(one, jobs) for pair in pairs]
    assert len(answered) == 3 * len(cases)
    wrong = [i for i, body in answered if body != expected[i]]
    assert not wrong, f"{len(wrong)} answers differ from the single-threaded ones: {wrong[:10]}"


# --- in-process: a threaded WSGI server, the C module watched --------------------------------


class WatchedEngine:
    """durable_rules' C module, counting the sessions that are live at any moment."""

    def __init__(self, real):
        self.real = real
        self.lock = threading.Lock()
        self.live: dict = {}  # handle: live sessions
        self.peak = 0
        self.asserted = 0
        self.deleted = 0
        self.fail_next_action = False

    def __getattr__(self, name):
        return getattr(self.real, name)

    def assert_fact(self, handle, fact):
        result = self.real.assert_fact(handle, fact)
        with self.lock:
            self.live[handle] = self.live.get(handle, 0) + 1
            self.peak = max(self.peak, self.live[handle])
            self.asserted += 1
        return result

    def complete_and_start_action(self, handle, state):
        if self.fail_next_action:
            self.fail_next_action = False
            raise RuntimeError("injected failure in the middle of a case")
        return self.real.complete_and_start_action(handle, state)

    def delete_state(self, handle, sid):
        result = self.real.delete_state(handle, sid)
        with self.lock:
            self.live[handle] -= 1
            self.deleted += 1
        return result


@pytest.fixture
def watched(monkeypatch):
    watch = WatchedEngine(service.engine._dre)
    monkeypatch.setattr(service.engine, "_dre", watch)
    return watch


@pytest.fixture(scope="module")
def own_app():
    return create_app({"TESTING": False, "LOG_LEVEL": "warning"})


@pytest.fixture
def wsgi(own_app):
    server = make_server("127.0.0.1", 0, own_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(30)


def test_threads_never_hold_more_than_one_session_nor_leave_one_behind(own_app, wsgi, watched):
    engine = own_app.extensions["dispute_guide"].engine
    cases = make_cases(300, seed=11)
    expected = single_threaded_answers(own_app, cases)
    before = engine.evaluations
    watched.peak = watched.asserted = watched.deleted = 0
    work = [i % len(cases) for i in range(SESSION_CAP + 200)]
    random.Random(3).shuffle(work)

    def one(i):
        status, raw = local.post(GUIDANCE, cases[i])
        return status == 200 and json.loads(raw) == expected[i]

    with Connections(wsgi.server_port) as local, ThreadPoolExecutor(64) as pool:
        agree = list(pool.map(one, work))
    assert all(agree), f"{agree.count(False)} answers differ from the single-threaded ones"
    assert watched.peak == 1, "more than one durable_rules session was live at once"
    # At most one session per engine ruleset (the rulebook is split to bound the matcher's
    # stack; a ruleset whose rules all need a situation the case lacks is not run).
    assert watched.asserted == watched.deleted
    assert len(work) <= watched.asserted <= len(work) * len(engine.shards)
    assert sum(watched.live.values()) == 0
    assert engine.live_sessions == 0
    assert engine.evaluations - before == len(work)


def test_a_failure_in_the_middle_of_a_case_leaves_no_session_behind(own_app, wsgi, watched):
    engine = own_app.extensions["dispute_guide"].engine
    case = {"case_id": "x", "situations": ["non_payment"], "contract": True}
    watched.fail_next_action = True
    with Connections(wsgi.server_port) as local:
        status, raw = local.post(GUIDANCE, case)
        assert status == 500
        body = json.loads(raw)
        assert body["title"] == "Internal Server Error" and "Traceback" not in raw.decode()
        assert watched.asserted == watched.deleted == 1
        assert engine.live_sessions == 0
        # And the engine goes on: the next cases are answered, the failure left nothing behind.
        for _ in range(20):
            status, _ = local.post(GUIDANCE, case)
            assert status == 200
    assert sum(watched.live.values()) == 0 and engine.live_sessions == 0
