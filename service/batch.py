"""POST /v1/guidance/batch: many cases in one request, as JSON or as streamed NDJSON.

(Placeholder: issue 4 fills this in.)
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("batch", __name__, url_prefix="/v1")


def openapi_paths() -> dict:
    """The batch endpoint's part of openapi.yaml (merged by service/openapi.py)."""
    return {}


def openapi_schemas() -> dict:
    """Extra component schemas {name: marshmallow schema class} for openapi.yaml."""
    return {}
