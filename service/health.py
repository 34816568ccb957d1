"""Liveness, readiness and the published contract."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.core import PROBE_CASE
from service.problems import NotReady
from service.resources import bundled
from service.state import loaded

OPENAPI_FILE = bundled("openapi.yaml")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Rules compiled and a probe case evaluated."""
    state = loaded()
    try:
        state.engine.evaluate(PROBE_CASE, questions=False)
    except Exception as error:  # any failure means "do not send traffic here"
        raise NotReady(f"The probe case failed: {type(error).__name__}.") from error
    body = {
        "status": "ready",
        "ruleset_version": state.version,
        "rules": len(state.rulebook.rules),
        "steps": len(state.rulebook.steps),
    }
    if state.reload_error:
        body["reload_error"] = state.reload_error  # still ready: the last good rules serve
    return jsonify(body)


@bp.get("/openapi.yaml")
def openapi():
    """The HTTP contract."""
    return Response(OPENAPI_FILE.read_bytes(), mimetype="application/yaml")
