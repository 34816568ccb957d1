"""One error envelope for everything: application/problem+json (RFC 9457).

The errors and their bodies are Flask-free (service/problems.py); here they become
responses, in the language of the request.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, has_request_context
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from schemas.common import DEFAULT_LANG
from service.exceptions import EngineError
from service.http import negotiate_lang
from service.names import LOGGER
from service.observability import metrics
from service.problems import PROBLEM_TYPE, ApiError, problem_body

log = logging.getLogger(LOGGER)


def problem(
    status: int, title: str, detail: str, slug: str | None = None, errors: dict | None = None
) -> dict:
    """The problem body of the current request: its request id, in its language."""
    request_id = g.get("request_id") if g else None
    return problem_body(status, title, detail, slug, errors, request_id, problem_lang())


def problem_of(error: ApiError) -> dict:
    return problem(error.status, error.title, error.detail, error.slug, error.errors)


def problem_lang() -> str:
    """The language of the request's problems: the one its answer would be in."""
    if not has_request_context():
        return DEFAULT_LANG
    lang = g.get("problem_lang")
    if lang is None:
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
        return problem_response(problem_of(error))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        headers = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        detail = error.description or error.name
        if error.code == 413:
            detail = (
                f"The body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes."
            )
        return problem_response(problem(error.code or 500, error.name, detail), headers)

    @app.errorhandler(EngineError)
    def _engine_error(error: EngineError):
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
