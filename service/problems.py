"""The errors the API answers on purpose, and the problem+json body (RFC 9457) they become.

Flask-free: the HTTP edge (service/errors.py) turns an ApiError into a response, the
command line into a message with its line number, a batch into a problem result.
"""

from __future__ import annotations

from typing import Any

from schemas.common import DEFAULT_LANG, message_paths
from service import problem_texts
from service.exceptions import DisputeGuideError

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "tag:dispute-guide,2026:problem:"
ENGLISH = problem_texts.ENGLISH  # marshmallow's generic wording, said plainly


class ApiError(DisputeGuideError):
    """Every error the API answers deliberately; the handler turns it into a problem."""

    status = 400
    title = "Bad request"
    slug: str | None = "bad-request"

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


def flatten_messages(messages: Any) -> dict[str, list[str]]:
    """marshmallow's nested messages as {"client.silent_days": [...]}; "$" is the top."""
    out: dict[str, list[str]] = {}
    for path, message in message_paths(messages):
        out.setdefault(path or "$", []).append(ENGLISH.get(message, message))
    return out


def problem_body(
    status: int,
    title: str,
    detail: str,
    slug: str | None = None,
    errors: dict | None = None,
    request_id: str | None = None,
    lang: str = DEFAULT_LANG,
) -> dict:
    """The problem+json body, its texts in `lang`."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    return problem_texts.localize(body, lang) if lang != DEFAULT_LANG else body
