"""The contract passes Spectral's `spectral:oas` ruleset with no warning at all.

Spectral comes from npm: `.ci/install-spectral` puts it in .tools/ (git ignores it), and
`.ci/run` runs that first. Without it the test is skipped, except in CI (CI=1), where a
missing linter is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.support.server import ROOT

SPECTRAL = ROOT / ".tools" / "spectral" / "node_modules" / ".bin" / "spectral"


def spectral() -> str:
    found = os.environ.get("SPECTRAL") or (str(SPECTRAL) if SPECTRAL.exists() else None)
    if not found or not shutil.which(found):
        message = "Spectral is not installed: run .ci/install-spectral"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_spectral_oas_ruleset_finds_nothing(tmp_path):
    ruleset = tmp_path / ".spectral.yaml"
    ruleset.write_text('extends: ["spectral:oas"]\n')
    report = tmp_path / "findings.json"
    result = subprocess.run(
        [
            spectral(),
            "lint",
            "--ruleset",
            str(ruleset),
            "--format",
            "json",
            "--output",
            str(report),
            "--fail-severity",
            "hint",
            str(ROOT / "openapi.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert report.exists(), result.stdout + result.stderr
    findings = json.loads(report.read_text() or "[]")
    assert findings == [], "\n".join(
        f"{f['code']} ({f['severity']}): {f['message']} at {'.'.join(map(str, f['path']))}"
        for f in findings
    )
    assert result.returncode == 0, result.stderr
