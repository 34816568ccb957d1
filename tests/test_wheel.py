"""The package as a user gets it: built into a wheel, installed (not editable) into a fresh
venv outside the source tree, and run from another folder.

It proves the wheel carries what the service needs (the rules, the contract, the gunicorn
settings) and finds it through the package, not through the source tree. It builds with the
Python running the tests, so `.ci/run` checks it on every supported Python the machine has.
It needs the package index (or pip's cache) for the build backend and the dependencies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support.deploy import dockerignore_context
from tests.support.server import ROOT, free_port

pytestmark = [pytest.mark.wheel, pytest.mark.server]

# durable_rules 2.0.28 compiles on Python 3.13 with its one removed C API call mapped.
CPPFLAGS = "-DPyEval_CallObject=PyObject_CallObject"
CASE = {
    "case_id": "wheel-1",
    "situations": ["non_payment"],
    "contract": True,
    "payment_state": "overdue",
}


def clean_env(**extra: str) -> dict:
    """The environment without anything that would point back into the source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        and not k.startswith("DISPUTE_GUIDE_")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return {**env, **extra}


def run(argv, cwd: Path, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kwargs.pop("env", None) or clean_env(),
        **kwargs,
    )
    assert result.returncode == 0, (
        f"{argv}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, as `python -m build` makes them (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    result = run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=ROOT)
    # No packaging warning (such as "Package would be ignored" for the page's folders). The
    # one about byte-compiling only says PYTHONDONTWRITEBYTECODE is set.
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if re.search(r"warn|deprecat|ignored", line, re.IGNORECASE)
        and "byte-compiling is disabled" not in line
    ]
    assert not warnings, "\n".join(warnings)
    return out


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A fresh venv, outside the source tree, with the wheel installed in it: its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    assert not venv.is_relative_to(ROOT)
    run([sys.executable, "-m", "venv", venv], cwd=venv)
    wheel = next(dist.glob("*.whl"))
    run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel],
        cwd=venv,
        env=clean_env(CPPFLAGS=CPPFLAGS),
    )
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working folder with no rules/, openapi.yaml or gunicorn.conf.py in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_the_wheel_carries_the_rules_the_contract_and_the_server_settings(dist):
    wheel = zipfile.ZipFile(next(dist.glob("*.whl")))
    names = set(wheel.namelist())
    rules = sorted(p.name for p in (ROOT / "rules").glob("*.yaml"))
    assert {f"service/bundled/rules/{name}" for name in rules} <= names
    for name in rules:  # copies of the one place they are edited
        assert wheel.read(f"service/bundled/rules/{name}") == (ROOT / "rules" / name).read_bytes()
    assert wheel.read("service/bundled/openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()
    assert {
        "service/gunicorn_conf.py",
        "service/templates/page.html",
        "service/static/page.js",
    } <= names
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    requires_python = next(
        line for line in metadata.splitlines() if line.startswith("Requires-Python:")
    )
    assert set(requires_python.split(":")[1].strip().split(",")) == {">=3.11", "<3.14"}
    # Serving needs no plotting: matplotlib is only the batch report's extra.
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any("matplotlib" in line and 'extra == "report"' in line for line in requires)
    assert not any("matplotlib" in line and "extra" not in line for line in requires)


def test_the_sdist_holds_what_the_wheel_is_built_from(dist):
    with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {
        "rules/facts.yaml",
        "rules/steps.yaml",
        "openapi.yaml",
        "setup.py",
        "pyproject.toml",
        "service/resources.py",
    } <= names


def test_the_installed_package_is_not_the_source_tree(installed, elsewhere):
    where = run(
        [installed / "python", "-c", "import service; print(service.__file__)"], cwd=elsewhere
    ).stdout.strip()
    assert "site-packages" in where and not Path(where).is_relative_to(ROOT)


def test_check_runs_the_bundled_rules_from_another_folder(installed, elsewhere):
    result = run([installed / "dispute-guide", "check"], cwd=elsewhere)
    assert "all passed" in result.stdout
    assert "site-packages" not in result.stderr


def test_openapi_prints_the_bundled_contract(installed, elsewhere):
    result = run([installed / "dispute-guide", "openapi"], cwd=elsewhere)
    assert result.stdout == (ROOT / "openapi.yaml").read_text(encoding="utf-8")


def test_batch_runs_from_another_folder_without_matplotlib(installed, elsewhere):
    cases = elsewhere / "cases.jsonl"
    cases.write_text(json.dumps(CASE) + "\n" + json.dumps({"situations": ["conflict"]}) + "\n")
    run(
        [installed / "dispute-guide", "batch", cases, "-o", "out.jsonl", "--jobs", "1"],
        cwd=elsewhere,
    )
    lines = [json.loads(line) for line in (elsewhere / "out.jsonl").read_text().splitlines()]
    assert [line["case_id"] for line in lines] == ["wheel-1", None]
    assert "formal-demand-under-contract" in [s["id"] for s in lines[0]["steps"]]
    missing = subprocess.run(
        [installed / "python", "-c", "import matplotlib"],
        cwd=elsewhere,
        capture_output=True,
        env=clean_env(),
    )
    assert missing.returncode != 0, "matplotlib is an extra, not a dependency"


def test_serve_answers_from_another_folder(installed, elsewhere):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = elsewhere / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [installed / "dispute-guide", "serve"],
            cwd=elsewhere,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(
                DISPUTE_GUIDE_BIND=f"127.0.0.1:{port}",
                DISPUTE_GUIDE_WORKERS="1",
                DISPUTE_GUIDE_LOG_LEVEL="warning",
            ),
        )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                    ready = json.load(response)
                    break
            except OSError:
                time.sleep(0.1)
        assert ready and ready["status"] == "ready", log.read_text()
        request = urllib.request.Request(
            url + "/v1/guidance?questions=false",
            data=json.dumps(CASE).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        assert "formal-demand-under-contract" in [s["id"] for s in answer["steps"]]
        with urllib.request.urlopen(url + "/openapi.yaml", timeout=10) as response:
            assert response.read() == (ROOT / "openapi.yaml").read_bytes()
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            assert response.status == 200  # the page's template and files are in the wheel
        # A second one on the same port says so in one line, naming the variable.
        taken = subprocess.run(
            [installed / "dispute-guide", "serve"],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(DISPUTE_GUIDE_BIND=f"127.0.0.1:{port}"),
        )
        assert taken.returncode == 1
        assert taken.stderr.count("\n") == 1 and "DISPUTE_GUIDE_BIND" in taken.stderr
        assert f"127.0.0.1:{port} is already in use" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=40)
    assert proc.returncode == 0, log.read_text()


def test_the_container_build_context_makes_the_same_wheel(tmp_path):
    """What deploy/Dockerfile's first stage does (`pip wheel .` on the files .dockerignore lets
    through), without Docker: the wheel it makes carries the rules and the contract."""
    import shutil

    context = tmp_path / "context"
    for name in dockerignore_context():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, context / name)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            tmp_path / "wheels",
            ".",
        ],
        cwd=context,
    )
    wheel = zipfile.ZipFile(next((tmp_path / "wheels").glob("dispute_guide-*.whl")))
    assert {
        "service/bundled/rules/facts.yaml",
        "service/bundled/openapi.yaml",
        "service/gunicorn_conf.py",
    } <= set(wheel.namelist())
