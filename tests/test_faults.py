"""Faults against the real gunicorn, under load: kill -9 of a worker, SIGTERM, a rules folder
that disappears or becomes unreadable while the service runs.

The load is a few client threads on keep-alive connections, sending single cases and slow
JSON batches (so that many requests are in flight at any moment), each with its own
X-Request-ID, each answer compared with the in-process answer. Every request is recorded:
when its connection was opened, when it was sent, when it finished, how. The service logs
one line per request it answered (with the request id), which tells "the server processed
it" from "it never reached the app".
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.server import ROOT, Server, children, wait_for

pytestmark = pytest.mark.server

CASES = [
    {"situations": ["non_payment"], "contract": True, "payment_state": "overdue"},
    {"situations": ["client_silent"], "client": {"silent_days": 9, "contact_attempts": 4}},
    {"situations": ["conflict", "dissatisfaction"], "fault": "freelancer"},
    {"situations": ["missing_information"], "information": {"blocking": True}},
]
BATCH_SIZE = 150  # a JSON batch of this many cases takes long enough to be caught in flight
# How a request fails when the worker holding its connection dies or closes it: no status,
# or a cut answer. Never an error status, never a wrong answer.
CONNECTION_LOST = {
    "RemoteDisconnected",
    "ConnectionResetError",
    "BrokenPipeError",
    "IncompleteRead",
    "ConnectionAbortedError",
}


@dataclass
class Sent:
    rid: str
    kind: str  # "single" or "batch"
    opened: float  # when its connection was opened
    sent: float = 0.0
    done: float = 0.0
    outcome: str = ""  # "ok", or what went wrong
    answered: bool = False  # some response came back (a status line at least)


@dataclass
class Load:
    """Client threads sending requests until stopped; every request recorded."""

    port: int
    expected: dict  # case index: the in-process answer
    threads: int = 8
    records: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # times a new connection was refused
    pending: dict = field(default_factory=dict)  # request id: sent, no outcome yet

    def __post_init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.seen = [0.0] * self.threads  # when each client last had an outcome or a refusal
        self.workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]

    def __enter__(self):
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(60)

    def count(self, condition=lambda record: True) -> int:
        """How many requests have an outcome and meet the condition."""
        with self.lock:
            return sum(1 for record in self.records if condition(record))

    def in_flight(self) -> list:
        """The requests sent that have no outcome yet."""
        with self.lock:
            return list(self.pending.values())

    def _run(self, n: int) -> None:
        conn, opened, count = None, 0.0, 0
        while not self.stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                try:
                    conn.connect()
                except OSError:  # refused: the listener is closed (or not yet open again)
                    conn.close()
                    conn = None
                    with self.lock:
                        self.refused.append(time.monotonic())
                        self.seen[n] = self.refused[-1]
                    time.sleep(0.02)
                    continue
                opened = time.monotonic()
            count += 1
            batch = n % 2 == 1 and count % 2 == 0
            index = count % len(CASES)
            record = Sent(f"t{n}-{count}", "batch" if batch else "single", opened)
            if batch:
                path, body = (
                    "/v1/guidance/batch",
                    {
                        "cases": [
                            {**CASES[i % len(CASES)], "case_id": f"c{i % len(CASES)}"}
                            for i in range(BATCH_SIZE)
                        ]
                    },
                )
            else:
                path, body = "/v1/guidance", {**CASES[index], "case_id": f"c{index}"}
            with self.lock:
                record.sent = time.monotonic()
                self.pending[record.rid] = record
            try:
                conn.request(
                    "POST",
                    path,
                    body=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json", "X-Request-ID": record.rid},
                )
                response = conn.getresponse()
                record.answered = True
                raw = response.read()
                try:
                    record.outcome = self._judge(response.status, raw, batch, index)
                except (ValueError, KeyError, TypeError) as error:
                    record.outcome = f"unreadable answer: {error!r}"
                if response.getheader("Connection") == "close" or count % 8 == 0:
                    conn.close()  # every 8th request, a new connection: new ones keep coming
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                record.outcome = type(error).__name__
                conn.close()
                conn = None
            with self.lock:
                record.done = time.monotonic()
                self.records.append(record)
                del self.pending[record.rid]
                self.seen[n] = record.done
        if conn is not None:
            conn.close()

    def _judge(self, status: int, raw: bytes, batch: bool, index: int) -> str:
        if status != 200:
            return f"status {status}"
        body = json.loads(raw)
        if batch:
            results = body["results"]
            ok = len(results) == BATCH_SIZE and all(
                r["guidance"] == self.expected[i % len(CASES)] for i, r in enumerate(results)
            )
        else:
            ok = body == self.expected[index]
        return "ok" if ok else "wrong answer"


@pytest.fixture(scope="module")
def expected(app):
    client = app.test_client()
    return {
        i: client.post("/v1/guidance", json={**case, "case_id": f"c{i}"}).get_json()
        for i, case in enumerate(CASES)
    }


def logged_request_ids(output: str) -> set[str]:
    ids = set()
    for line in output.splitlines():
        if line.startswith("{") and json.loads(line).get("event") == "request":
            ids.add(json.loads(line)["request_id"])
    return ids


def workers_once(master: int, condition) -> set[int]:
    """The master's workers, once they meet the condition."""
    found: set[int] = set()

    def check():
        found.clear()
        found.update(children(master))
        return condition(found)

    wait_for(check)
    return set(found)


# --- kill -9 of one worker under load ----------------------------------------------------


def test_kill_9_of_a_worker_fails_only_its_own_requests(expected):
    srv = Server(workers=2, threads=4).start()
    try:
        master = srv.proc.pid
        workers = workers_once(master, lambda now: len(now) == 2)
        victim = min(workers)
        with Load(srv.port, expected) as load:
            wait_for(lambda: load.count() > 60, 60, 0.01, "60 answers before the kill")
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            replaced = workers_once(master, lambda now: len(now) == 2 and victim not in now)
            wait_for(
                lambda: load.count(lambda r: r.opened > killed) > 60,
                60,
                0.01,
                "60 answers on connections opened after the kill",
            )
        records = load.records
        before = [r for r in records if r.done < killed]
        after = [r for r in records if r.opened > killed]  # on connections opened after it
        failed = [r for r in records if r.outcome != "ok"]
        assert len(before) > 50 and len(after) > 50, (len(before), len(after))
        assert all(r.outcome == "ok" for r in before)
        assert all(r.outcome == "ok" for r in after), [r for r in after if r.outcome != "ok"]
        # A failure is a request on a connection the dead worker held when it died: in flight
        # then, or sent on it after (its keep-alive socket is gone): at most one per client
        # connection, and never an answer that is wrong or an error status.
        assert all(r.opened < killed <= r.done and r.outcome in CONNECTION_LOST for r in failed), (
            failed
        )
        assert len(failed) <= load.threads
        assert len(replaced - workers) == 1 and (workers - {victim}) <= replaced
    finally:
        output = srv.stop()
    assert f"(pid:{victim}) was sent SIGKILL" in output
    assert "Traceback" not in output


# --- SIGTERM under load ----------------------------------------------------------------------


def under_way(load: Load):
    """A condition: answers have come back, and requests are in flight, a batch among them."""

    def check() -> bool:
        flying = load.in_flight()
        return load.count() >= 20 and len(flying) >= 6 and any(r.kind == "batch" for r in flying)

    return check


def test_sigterm_under_load_fails_no_request(expected):
    """Every request the server took on is answered in full before the master exits.

    After SIGTERM the listener closes: a new connection is refused, and a request that comes
    on a keep-alive connection the worker closes on its way out gets no answer at all. Neither
    is a failure of a request in flight: the service never saw it (it logged no line for it),
    so the client may send it again. What would be a failure: any answer that is not a full
    and correct 200, and any request the service did process (logged) whose answer did not
    reach the client.
    """
    srv = Server(workers=2, threads=4, env={"DISPUTE_GUIDE_LOG_LEVEL": "info"}).start()
    try:
        with Load(srv.port, expected, threads=12) as load:
            wait_for(under_way(load), 60, 0.01, "requests in flight, a batch among them")
            term = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            srv.proc.wait(timeout=45)
            exited = time.monotonic()
            # Every client has met the stopped server since (a refusal, or a request failed).
            wait_for(lambda: min(load.seen) > exited, 30, 0.01, "every client to meet the end")
        assert srv.proc.returncode == 0
    finally:
        output = srv.stop()
    records = load.records
    processed = logged_request_ids(output)
    in_flight = [r for r in records if r.sent < term < r.done]
    unanswered = [r for r in records if not r.answered]
    failures = [
        r for r in records if r.outcome not in ("ok",) and (r.answered or r.rid in processed)
    ]
    assert failures == []
    # Each request without an answer was never processed, and came after SIGTERM or on a
    # keep-alive connection that was idle when the worker closed it.
    assert all(r.rid not in processed for r in unanswered)
    assert [r for r in unanswered if r.sent < term and r.opened < term and r.done < term] == []
    assert all(r.outcome == "ok" for r in records if r.done < term)
    # The scenario happened: requests were in flight when SIGTERM came and all completed.
    assert len(in_flight) >= 4 and all(r.outcome == "ok" for r in in_flight), in_flight
    assert any(r.kind == "batch" for r in in_flight)
    late = [
        (r.rid, r.kind, r.sent - term, r.done - term, r.outcome) for r in records if r.done > term
    ]
    assert exited - term < 30, (exited - term, late, output[-6000:])
    assert "Traceback" not in output and "WORKER TIMEOUT" not in output


# --- the rules folder disappears or becomes unreadable ---------------------------------------


class UnprivilegedServer(Server):
    """Server without root's power to read any file (root ignores file modes otherwise).

    As root, gunicorn runs under `setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    dropped: still uid 0, but a folder with mode 000 is unreadable to it, as to anyone.
    """

    PREFIX = (
        "setpriv",
        "--bounding-set",
        "-dac_override,-dac_read_search",
        "--inh-caps",
        "-dac_override,-dac_read_search",
        "--",
    )

    def __init__(self, **kwargs):
        super().__init__(prefix=self.PREFIX if self.possible() else (), **kwargs)

    @classmethod
    def possible(cls) -> bool:
        return os.geteuid() == 0 and shutil.which("setpriv") is not None


def get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_the_loaded_rules_keep_serving_when_their_folder_goes_away(expected):
    unprivileged = UnprivilegedServer.possible()
    base = Path(tempfile.mkdtemp(prefix="dispute-guide-rules-"))
    base.chmod(0o755)
    rules = base / "rules"
    shutil.copytree(ROOT / "rules", rules)
    for path in [rules, *rules.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    srv = UnprivilegedServer(workers=2, threads=4, env={"DISPUTE_GUIDE_RULES_DIR": str(rules)})
    try:
        srv.start()
        master = srv.proc.pid
        version = get(srv.port, "/readyz")[1]["ruleset_version"]
        catalogue = {path: get(srv.port, path)[1] for path in ("/v1/rules", "/v1/steps")}

        def serving_the_loaded_rules():
            for path, body in catalogue.items():
                assert get(srv.port, path) == (200, body)
            ready = get(srv.port, "/readyz")[1]
            assert ready["ruleset_version"] == version
            return ready

        def kill_a_worker():
            workers = children(master)
            os.kill(min(workers), signal.SIGKILL)
            wait_for(lambda: len(children(master)) == 2 and min(workers) not in children(master))

        def reload_with_sighup(expect_error: str | None):
            workers = children(master)
            srv.proc.send_signal(signal.SIGHUP)
            # New workers are forked from the master, the old ones leave.
            wait_for(lambda: len(children(master)) == 2 and not (children(master) & workers))
            ready = serving_the_loaded_rules()
            if expect_error:
                assert expect_error in ready.get("reload_error", ""), ready
            else:
                assert "reload_error" not in ready

        with Load(srv.port, expected, threads=4) as load:
            wait_for(lambda: load.count() >= 20, 60, 0.01, "the load under way")
            if unprivileged:  # unreadable: no mode bits, and the service cannot override them
                rules.chmod(0)
                serving_the_loaded_rules()
                kill_a_worker()
                serving_the_loaded_rules()
                reload_with_sighup("facts.yaml: missing")
                rules.chmod(0o755)
            shutil.rmtree(rules)  # gone
            serving_the_loaded_rules()
            kill_a_worker()
            serving_the_loaded_rules()
            reload_with_sighup("the rules folder does not exist")
            shutil.copytree(ROOT / "rules", rules)  # back: the next reload succeeds
            for path in [rules, *rules.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            reload_with_sighup(None)
            back = time.monotonic()
            wait_for(
                lambda: load.count(lambda r: r.sent > back) >= 20 and load.count() > 100,
                60,
                0.01,
                "answers after the last reload",
            )
        failures = [r for r in load.records if r.outcome != "ok"]
        # Every answer that arrived was the loaded rules' answer. A request may be lost only
        # with a worker: the two killed ones, and the ones SIGHUP retires (a request sent on
        # an idle keep-alive connection as its worker closes it, never processed).
        assert all(r.outcome in CONNECTION_LOST for r in failures), failures
        assert len(failures) <= 5 * load.threads
        assert len(load.records) > 100
    finally:
        output = srv.stop()
        shutil.rmtree(base, ignore_errors=True)
    assert "Traceback" not in output, output[-3000:]
