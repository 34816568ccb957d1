"""Running it in production: metrics, logs, keys, CORS, SIGTERM, rule reload, deployment files.

Against the real gunicorn (tests/support/server.py's Server), over HTTP.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.support.server import ROOT, Server, holds, listens, wait_for

pytestmark = pytest.mark.server
CASE = {"case_id": "prod-1", "situations": ["non_payment"], "contract": False}


def call(server, method, path, body=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        base = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers={**base, **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def metric(text: str, name: str, **labels) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


@pytest.fixture(scope="module")
def two_workers():
    srv = Server(workers=2, env={"DISPUTE_GUIDE_LOG_LEVEL": "info"}).start()
    yield srv
    srv.stop()


def test_metrics_are_summed_over_two_workers(two_workers):
    _, _, raw = call(two_workers, "GET", "/metrics")
    before = raw.decode()
    n = 300
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(
            pool.map(lambda _: call(two_workers, "POST", "/v1/guidance", CASE)[0], range(n))
        )
    assert statuses == [200] * n
    call(two_workers, "POST", "/v1/guidance", {"situations": ["war"]})
    # Whichever worker answers the scrape, it reports what both have counted.
    for _ in range(6):
        status, headers, raw = call(two_workers, "GET", "/metrics")
        text = raw.decode()
        assert status == 200 and headers["content-type"].startswith("text/plain")
        route = {"route": "/v1/guidance", "method": "POST"}
        assert (
            metric(text, "dispute_guide_requests_total", status="200", **route)
            - metric(before, "dispute_guide_requests_total", status="200", **route)
            == n
        )
        assert (
            metric(text, "dispute_guide_rules_fired_total", rule="nonpay-no-empty-threats")
            - metric(before, "dispute_guide_rules_fired_total", rule="nonpay-no-empty-threats")
            == n
        )
        assert (
            metric(text, "dispute_guide_evaluations_total")
            - metric(before, "dispute_guide_evaluations_total")
            >= n
        )
        assert (
            metric(
                text, "dispute_guide_validation_errors_total", route="/v1/guidance", status="422"
            )
            - metric(
                before, "dispute_guide_validation_errors_total", route="/v1/guidance", status="422"
            )
            == 1
        )
        assert (
            metric(text, "dispute_guide_request_duration_seconds_count", route="/v1/guidance") >= n
        )
        assert "dispute_guide_engine_errors_total" in text


def test_one_json_log_line_per_request_with_its_id_and_no_facts(two_workers):
    request_id = "trace-me-42"
    status, headers, _ = call(
        two_workers,
        "POST",
        "/v1/guidance",
        {"case_id": "crm-7", "situations": ["client_silent"], "client": {"silent_days": 987}},
        headers={"X-Request-ID": request_id},
    )
    assert status == 200 and headers["x-request-id"] == request_id
    deadline = time.monotonic() + 10  # the worker writes its line as it answers: wait for it
    while True:
        lines = [
            json.loads(line)
            for line in two_workers.output().splitlines()
            if line.startswith("{") and request_id in line
        ]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1
    entry = lines[0]
    assert entry["event"] == "request" and entry["route"] == "/v1/guidance"
    assert entry["status"] == 200 and entry["case_id"] == "crm-7"
    assert entry["method"] == "POST" and entry["duration_ms"] > 0
    assert re.fullmatch(r"[0-9a-f]{16}", entry["ruleset_version"])
    # No fact of the case: its numbers may only appear by chance in the time fields.
    untimed = {k: v for k, v in entry.items() if k not in ("ts", "duration_ms")}
    assert "987" not in json.dumps(untimed) and "client_silent" not in json.dumps(entry)


def test_a_request_id_is_generated_when_missing_or_unsafe(two_workers):
    _, headers, _ = call(two_workers, "GET", "/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    _, headers, _ = call(two_workers, "GET", "/healthz", headers={"X-Request-ID": "bad id\t;"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    status, headers, raw = call(
        two_workers, "POST", "/v1/guidance", {"situations": []}, headers={"X-Request-ID": "err-1"}
    )
    assert status == 422 and json.loads(raw)["request_id"] == "err-1"


def test_answers_are_not_cached_or_sniffed(two_workers):
    _, headers, _ = call(two_workers, "POST", "/v1/guidance", CASE)
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_without_keys_the_api_is_open(two_workers):
    assert call(two_workers, "POST", "/v1/guidance", CASE)[0] == 200


def test_api_keys_lock_v1_but_not_health_readiness_or_metrics(tmp_path):
    hashed = tmp_path / "keys"
    hashed.write_text("# the CRM's key\n" + hashlib.sha256(b"crm-key").hexdigest() + "\n")
    srv = Server(
        workers=1,
        env={
            "DISPUTE_GUIDE_API_KEYS": "key-one, key-two",
            "DISPUTE_GUIDE_API_KEYS_FILE": str(hashed),
        },
    ).start()
    try:
        status, headers, raw = call(srv, "POST", "/v1/guidance", CASE)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(raw)["title"] == "Unauthorized"
        assert call(srv, "POST", "/v1/guidance", CASE, {"Authorization": "Bearer wrong"})[0] == 401
        assert (
            call(srv, "GET", "/v1/steps", headers={"Authorization": "Basic a2V5LW9uZQ=="})[0] == 401
        )
        for key in ("key-one", "key-two", "crm-key"):
            assert (
                call(srv, "POST", "/v1/guidance", CASE, {"Authorization": f"Bearer {key}"})[0]
                == 200
            )
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml"):
            assert call(srv, "GET", path)[0] == 200, path
    finally:
        output = srv.stop()
    assert "no API key is configured" not in output


def test_no_key_configured_warns_at_start_up():
    srv = Server(workers=1).start()
    assert "no API key is configured" in srv.stop()


def test_metrics_can_have_their_own_key():
    srv = Server(workers=1, env={"DISPUTE_GUIDE_METRICS_KEY": "scraper"}).start()
    try:
        status, headers, _ = call(srv, "GET", "/metrics")
        assert status == 401 and "www-authenticate" in headers
        assert call(srv, "GET", "/metrics", headers={"Authorization": "Bearer scraper"})[0] == 200
        assert call(srv, "POST", "/v1/guidance", CASE)[0] == 200  # no API keys: open
    finally:
        srv.stop()


def test_a_keys_file_with_a_bad_line_stops_start_up(tmp_path):
    bad = tmp_path / "keys"
    bad.write_text("not-a-hash\n")
    with pytest.raises(RuntimeError, match="DISPUTE_GUIDE_API_KEYS_FILE=.*line 1"):
        Server(workers=1, env={"DISPUTE_GUIDE_API_KEYS_FILE": str(bad)}).start()


def test_cors_preflight_and_answers_for_configured_origins_only():
    srv = Server(
        workers=1,
        env={
            "DISPUTE_GUIDE_CORS_ORIGINS": "https://crm.example.com",
            "DISPUTE_GUIDE_API_KEYS": "k",
        },
    ).start()
    try:
        preflight = {
            "Origin": "https://crm.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        status, headers, _ = call(srv, "OPTIONS", "/v1/guidance", headers=preflight)
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://crm.example.com"
        assert "POST" in headers["access-control-allow-methods"]
        assert "Authorization" in headers["access-control-allow-headers"]
        status, headers, _ = call(
            srv,
            "POST",
            "/v1/guidance",
            CASE,
            {"Origin": "https://crm.example.com", "Authorization": "Bearer k"},
        )
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://crm.example.com"
        assert "X-Request-ID" in headers["access-control-expose-headers"]
        status, headers, _ = call(
            srv, "OPTIONS", "/v1/guidance", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in headers
        status, headers, _ = call(
            srv,
            "POST",
            "/v1/guidance",
            CASE,
            {"Origin": "https://evil.example", "Authorization": "Bearer k"},
        )
        assert "access-control-allow-origin" not in headers
    finally:
        srv.stop()


def test_sigterm_lets_in_flight_requests_finish():
    srv = Server(workers=2).start()
    body = json.dumps({"situations": ["conflict"], "case_id": "in-flight"}).encode()
    half = len(body) // 2
    sockets = []
    for _ in range(6):  # requests whose body is still arriving when SIGTERM comes
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        sock.sendall(
            b"POST /v1/guidance HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:half]
        )
        sockets.append(sock)
    workers = srv.workers()
    wait_for(
        lambda: all(any(holds(w, sock) for w in workers) for sock in sockets),
        30,
        0.01,
        "the workers to take the six connections",
    )
    srv.proc.send_signal(signal.SIGTERM)
    # The master closes its listener as it starts stopping, then signals the workers.
    wait_for(lambda: not listens(srv.proc.pid, srv.port), 30, 0.001, "the master to stop")
    for sock in sockets:  # all the rests first: the service waits READ_TIMEOUT at most
        sock.sendall(body[half:])
    answers = []
    for sock in sockets:
        answers.append(sock.makefile("rb").read())
        sock.close()
    srv.proc.wait(timeout=40)
    assert all(a.startswith(b"HTTP/1.1 200") and b'"case_id":"in-flight"' in a for a in answers)
    srv.stop()


class Hammer:
    """Requests in a loop from a few threads until stopped; counts the failures."""

    def __init__(self, server, threads=4):
        self.server, self.stop_flag = server, threading.Event()
        self.ok, self.failures, self.versions = 0, [], set()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                status, _, raw = call(self.server, "POST", "/v1/guidance", CASE, timeout=10)
                if status == 200:
                    self.ok += 1
                    self.versions.add(json.loads(raw)["ruleset_version"])
                else:
                    self.failures.append(status)
            except OSError as error:
                self.failures.append(repr(error))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)


def ready(server) -> dict:
    return json.loads(call(server, "GET", "/readyz")[2])


def test_sighup_reloads_good_rules_without_failing_a_request(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    srv = Server(workers=2, env={"DISPUTE_GUIDE_RULES_DIR": str(rules)}).start()
    try:
        old = ready(srv)["ruleset_version"]
        with Hammer(srv) as hammer:
            wait_for(lambda: hammer.ok >= 5, 30, 0.01, "the hammer under way")
            steps = rules / "steps.yaml"
            steps.write_text(
                steps.read_text(encoding="utf-8").replace(
                    "Ask the client about the payment", "Ask the client about the payment, kindly"
                ),
                encoding="utf-8",
            )
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: ready(srv)["ruleset_version"] != old, 30, 0.05, "the new rules")
            mark = hammer.ok  # then answers from the new workers, with the new rules
            wait_for(
                lambda: hammer.ok >= mark + 20 and len(hammer.versions) == 2,
                30,
                0.01,
                "answers with the new rules",
            )
        new = ready(srv)["ruleset_version"]
        assert new != old and "reload_error" not in ready(srv)
        assert hammer.failures == [] and hammer.ok > 20
        _, _, raw = call(srv, "POST", "/v1/guidance", CASE)
        assert json.loads(raw)["steps"][0]["title"].endswith("kindly")
        text = call(srv, "GET", "/metrics")[2].decode()
        assert metric(text, "dispute_guide_rule_reloads_total", outcome="ok") == 1
    finally:
        srv.stop()


def test_sighup_with_a_broken_rule_keeps_serving_the_last_good_rules(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    srv = Server(workers=2, env={"DISPUTE_GUIDE_RULES_DIR": str(rules)}).start()
    try:
        old = ready(srv)["ruleset_version"]
        with Hammer(srv) as hammer:
            wait_for(lambda: hammer.ok >= 5, 30, 0.01, "the hammer under way")
            (rules / "broken.yaml").write_text(
                "section: nonpay\nrules:\n  - id: broken\n    description: d\n"
                "    when: {budget: 1}\n    reason: {en: x, ru: x}\n    add: [clarify-payment]\n",
                encoding="utf-8",
            )
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload_error" in ready(srv), 30, 0.05, "the reload to fail")
            mark = hammer.ok  # then answers from the workers that kept the last good rules
            wait_for(lambda: hammer.ok >= mark + 20, 30, 0.01, "answers after the reload")
        state = ready(srv)
        assert state["ruleset_version"] == old
        assert "broken.yaml: rule 'broken': when.budget: unknown fact" in state["reload_error"]
        assert hammer.failures == [] and hammer.ok > 20 and hammer.versions == {old}
        text = call(srv, "GET", "/metrics")[2].decode()
        assert metric(text, "dispute_guide_rule_reloads_total", outcome="failed") == 1
    finally:
        output = srv.stop()
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "rule_reload" and e.get("outcome") == "failed" for e in logged)


def test_deployment_files_point_at_the_real_probes_and_port():
    from service.config import SETTINGS

    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text()))
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DISPUTE_GUIDE_BIND"].endswith(f":{port['containerPort']}")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["port"] == port["name"]
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    assert (
        kinds["Service"]["spec"]["selector"]
        == kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    )
    target = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        kinds["Deployment"]["metadata"]["name"],
    )
    known = {s.variable for s in SETTINGS}
    assert set(env) <= known
    # The grace period outlasts gunicorn's graceful shutdown.
    import runpy

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (
        kinds["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        > conf["graceful_timeout"]
    )
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert f"EXPOSE {port['containerPort']}" in dockerfile
    assert 'dispute-guide", "serve"' in dockerfile
