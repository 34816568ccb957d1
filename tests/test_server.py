"""The real service: gunicorn on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.contract import check
from tests.support.server import ROOT, Server

pytestmark = pytest.mark.server


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        data = (
            json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        )
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = conn.getresponse()
        raw = response.read()
        return response.status, dict(response.getheaders()), raw
    finally:
        conn.close()


def test_guidance_over_http_matches_the_contract(server):
    case = {
        "situations": ["non_payment"],
        "stage": "in_progress",
        "contract": False,
        "prepayment": "none",
        "payment_state": "unpaid",
        "deliverables": {"sent": False},
        "evidence": {"correspondence_archived": False},
    }
    status, headers, raw = request(server, "POST", "/v1/guidance?lang=ru", case)
    body = json.loads(raw)
    assert status == 200 and headers["Content-Language"] == "ru"
    check("/v1/guidance", "post", status, headers["Content-Type"], body)
    assert "no-threats-without-contract" in [s["id"] for s in body["steps"]]


def test_concurrent_requests_over_two_workers_each_get_their_own_answer(server):
    cases = [
        {
            "case_id": f"c{i}",
            "situations": ["client_silent"],
            "stage": "in_progress",
            "client": {"silent_days": i % 10, "contact_attempts": i % 5},
        }
        for i in range(400)
    ]

    def one(case):
        status, _, raw = request(server, "POST", "/v1/guidance", case)
        return status, json.loads(raw)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, cases))
    for case, (status, body) in zip(cases, results, strict=False):
        assert status == 200 and body["case_id"] == case["case_id"]
        ids = {s["id"] for s in body["steps"]}
        assert ("warn-work-suspension" in ids) == (case["client"]["silent_days"] >= 5)
        assert ("check-reachability" in ids) == (case["client"]["contact_attempts"] >= 3)


def test_bad_input_over_http_is_a_problem_and_the_worker_survives(server):
    status, headers, raw = request(server, "POST", "/v1/guidance", b"[" * 100_000)
    assert status in (400, 413) and headers["Content-Type"] == "application/problem+json"
    status, _, raw = request(server, "POST", "/v1/guidance", b'{"situations": ["x"]}')
    assert status == 422
    status, _, raw = request(server, "POST", "/v1/guidance", {"situations": ["conflict"]})
    assert status == 200 and json.loads(raw)["steps"]


def test_oversized_chunked_body_is_a_413():
    srv = Server(env={"DISPUTE_GUIDE_MAX_BODY_BYTES": "2048"}, workers=1).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.putrequest("POST", "/v1/guidance")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b'{"case_id": "' + b"x" * 4096 + b'"}'
        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
        conn.close()
        status, _, _ = request(srv, "POST", "/v1/guidance", {"situations": ["conflict"]})
        assert status == 200
    finally:
        srv.stop()


def test_service_refuses_to_start_on_broken_rules(tmp_path):
    import shutil

    shutil.copytree(ROOT / "rules", tmp_path, dirs_exist_ok=True)
    (tmp_path / "broken.yaml").write_text(
        "section: nonpay\nrules:\n  - id: broken\n    description: d\n"
        "    when: {budget: 1}\n    reason: {en: x, ru: x}\n    add: [clarify-payment]\n",
        encoding="utf-8",
    )
    srv = Server(env={"DISPUTE_GUIDE_RULES_DIR": str(tmp_path)}, workers=1)
    with pytest.raises(RuntimeError, match="broken.yaml: rule 'broken': when.budget: unknown fact"):
        srv.start(timeout=30)


def test_a_bad_configuration_value_names_the_variable():
    srv = Server(env={"DISPUTE_GUIDE_THREADS": "many"}, workers=1)
    with pytest.raises(RuntimeError, match="DISPUTE_GUIDE_THREADS='many'"):
        srv.start(timeout=30)


def test_gunicorn_serves_the_factory_directly():
    port_server = Server(workers=1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port_server.port}",
            # What is tested is serving the factory, not a graceful stop: a worker that is
            # slow to leave (seen once in a few loaded runs) is killed after 5 s, not 30.
            "--graceful-timeout",
            "5",
            "service:create_app()",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_server.proc = proc
    try:
        import time

        for _ in range(100):
            try:
                status, _, raw = request(port_server, "GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        status, _, raw = request(port_server, "POST", "/v1/guidance", {"situations": ["conflict"]})
        assert status == 200 and json.loads(raw)["steps"][0]["id"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
