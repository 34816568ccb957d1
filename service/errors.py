"""One error envelope for everything: application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, has_request_context
from werkzeug.exceptions import HTTPException

from service import problem_texts
from service.engine import EngineError
from service.exceptions import DisputeGuideError

PROBLEM_TYPE = "application/problem+json"
DEFAULT_LANG = "en"
TYPE_BASE = "tag:dispute-guide,2026:problem:"
log = logging.getLogger("dispute_guide")


class ApiError(DisputeGuideError):
    """Every error the API answers deliberately; the handler turns it into a problem."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class MalformedJson(ApiError):
    title, slug = "Malformed JSON", "malformed-json"


class UnreadableBody(ApiError):
    title, slug = "Unreadable body", "unreadable-body"


class UnsupportedMediaType(ApiError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class ValidationFailed(ApiError):
    status, title, slug = 422, "Invalid case", "validation"


class BadParameter(ApiError):
    status, title, slug = 422, "Invalid query parameter", "query-parameter"


class NotReady(ApiError):
    status, title, slug = 503, "Not ready", "not-ready"


ENGLISH = problem_texts.ENGLISH  # marshmallow's generic wording, said plainly


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"client.silent_days": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for p, msgs in flatten_messages(value, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "$"] = [ENGLISH.get(m, m) for m in messages]
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flatten_messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "$"] = [str(messages)]
    return out


def problem(
    status: int, title: str, detail: str, slug: str | None = None, errors: dict | None = None
) -> dict:
    body = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    lang = problem_lang()
    return problem_texts.localize(body, lang) if lang != DEFAULT_LANG else body


def problem_lang() -> str:
    """The language of the request's problems: the one its answer would be in."""
    if not has_request_context():
        return DEFAULT_LANG
    lang = g.get("problem_lang")
    if lang is None:
        from service.api import negotiate_lang

        try:
            lang = negotiate_lang()
        except Exception:  # a header too broken to read: English, and the real problem said
            lang = DEFAULT_LANG
        g.problem_lang = lang
    return lang


def problem_response(body: dict, headers: dict | None = None):
    response = current_app.json.response(body)
    response.status_code = body["status"]
    response.mimetype = PROBLEM_TYPE
    if has_request_context():
        response.headers["Content-Language"] = problem_lang()
        response.vary.add("Accept-Language")
    if headers:
        response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return problem_response(
            problem(error.status, error.title, error.detail, error.slug, error.errors)
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        headers = {}
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        detail = error.description or error.name
        if error.code == 413:
            detail = (
                f"The body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes."
            )
        return problem_response(problem(error.code or 500, error.name, detail), headers)

    @app.errorhandler(EngineError)
    def _engine_error(error: EngineError):
        from service.observability import metrics

        metrics(app).engine_errors.inc()
        log.exception("engine error", extra={"fields": {"event": "engine_error"}})
        return problem_response(
            problem(
                500,
                "Internal Server Error",
                "The rule engine failed on this case; it has been logged.",
            )
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # Logged with its traceback for the operator; the caller learns nothing internal.
        log.exception("unexpected error", extra={"fields": {"event": "unexpected_error"}})
        return problem_response(
            problem(
                500,
                "Internal Server Error",
                "The server failed on this request; it has been logged.",
            )
        )
