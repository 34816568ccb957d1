"""The command line, run for real."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from tests.support.server import ROOT


def run(*args, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_evaluate_reads_stdin_and_prints_guidance():
    result = run(
        "evaluate",
        "-",
        "--lang",
        "ru",
        stdin=json.dumps({"situations": ["non_payment"], "contract": True}),
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["lang"] == "ru" and "formal-demand-under-contract" in [
        s["id"] for s in body["steps"]
    ]


def test_evaluate_reports_an_invalid_case_with_its_field(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"situations": ["non_payment"], "client": {"silent_days": "3"}}))
    result = run("evaluate", str(case))
    assert result.returncode == 1
    assert f"{case}: client.silent_days: Not a valid integer." in result.stderr


def test_evaluate_reports_malformed_json():
    result = run("evaluate", "-", stdin='{"situations": ')
    assert result.returncode == 1 and "Malformed JSON at line 1" in result.stderr


def test_evaluate_missing_file_is_a_usage_error(tmp_path):
    result = run("evaluate", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "No such file" in result.stderr


def test_config_prints_every_variable():
    from service.config import SETTINGS

    result = run("config")
    assert result.returncode == 0
    assert all(s.variable in result.stdout for s in SETTINGS)


def test_readme_configuration_table_is_the_generated_one():
    from service.config import markdown_table

    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_serve_says_in_one_line_that_the_port_is_taken_and_what_to_set():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        for result in (
            run("serve", env={"DISPUTE_GUIDE_BIND": address}),
            run("serve", "--bind", address),
        ):
            assert result.returncode == 1
            assert result.stderr == (
                f"dispute-guide: {address} is already in use by another "
                "process; set DISPUTE_GUIDE_BIND (or --bind) to a free "
                "HOST:PORT\n"
            )


def test_serve_refuses_a_bind_that_is_not_host_port():
    result = run("serve", env={"DISPUTE_GUIDE_BIND": "127.0.0.1:http"})
    assert result.returncode == 1
    assert "DISPUTE_GUIDE_BIND='127.0.0.1:http' is not HOST:PORT" in result.stderr


def test_openapi_needs_only_the_runtime_dependencies():
    from importlib.metadata import requires

    runtime = [r for r in requires("dispute-guide") if "extra ==" not in r]
    assert any(r.startswith("apispec") for r in runtime)
    result = run("openapi")
    assert result.returncode == 0 and result.stdout.startswith("# Generated")
