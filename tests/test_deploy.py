"""The container recipe installs the wheel, not the source tree.

There is no Docker engine on the build machines, so the image is not built here. What is
checked instead: the Dockerfile's shape (two stages, a wheel installed offline and not
editable, no source tree in the final image, a non-root user, a health check on the
readiness probe), and that the build context .dockerignore lets through is enough to
build that wheel (tests/test_wheel.py builds it from exactly those files).
"""

from __future__ import annotations

import re

from tests.support.deploy import dockerignore_context
from tests.support.server import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            result.append([])
        if result:
            result[-1].append((word, rest))
    return result


def test_the_image_installs_the_wheel_built_in_a_first_stage():
    build, final = stages()
    assert len(stages()) == 2
    build_runs = " ".join(rest for word, rest in build if word == "RUN")
    assert re.search(r"pip wheel .*--wheel-dir /wheels \.", build_runs)
    assert "-DPyEval_CallObject=PyObject_CallObject" in dict(build)["ENV"]
    copies = [rest for word, rest in final if word in ("COPY", "ADD")]
    assert copies == ["--from=build /wheels /wheels"], "only the wheels reach the final image"
    final_runs = " ".join(rest for word, rest in final if word == "RUN")
    assert re.search(r"pip install .*--no-index --find-links /wheels dispute-guide", final_runs)
    assert " -e " not in final_runs and "--editable" not in final_runs
    assert "rm -rf /wheels" in final_runs


def test_the_image_runs_as_a_user_with_a_health_check():
    final = stages()[-1]
    user = [rest for word, rest in final if word == "USER"]
    assert user and user[-1] not in ("root", "0")
    health = dict(final)["HEALTHCHECK"]
    assert "/readyz" in health and "DISPUTE_GUIDE_BIND" in health
    assert dict(final)["CMD"] == '["/venv/bin/dispute-guide", "serve"]'


def test_the_build_context_is_what_the_wheel_is_built_from():
    context = dockerignore_context()
    assert {
        "pyproject.toml",
        "setup.py",
        "MANIFEST.in",
        "README.md",
        "openapi.yaml",
        "rules/facts.yaml",
        "rules/steps.yaml",
        "service/__init__.py",
        "service/static/page.js",
        "schemas/case.py",
    } <= set(context)
    for kept in context:
        assert not kept.startswith(("tests/", "bench/", ".git", "deploy/", ".ci/", ".venv")), kept
