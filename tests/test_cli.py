"""The command line, run for real."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def run(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_evaluate_reads_stdin_and_prints_guidance():
    result = run("evaluate", "-", "--lang", "ru", stdin=json.dumps({"situations": ["non_payment"],
                                                                    "contract": True}))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["lang"] == "ru" and "formal-demand-under-contract" in [s["id"] for s in body["steps"]]


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
