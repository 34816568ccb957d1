"""What every HTTP route shares: the language, the query flags, reading a JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from flask import Response, current_app, request
from werkzeug.datastructures import LanguageAccept, MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.http import parse_accept_header

from schemas.common import DEFAULT_LANG, LANGS
from service import jsonio
from service.config import parse_bool
from service.core import ALL_MESSAGES, DEFAULT_MESSAGES, DEFAULT_QUESTIONS
from service.names import CLOSE_CONNECTION
from service.problems import BadParameter, UnreadableBody, UnsupportedMediaType


def negotiate_lang() -> str:
    """?lang= first, then Accept-Language, then English; unsupported ones fall back to English."""
    environ = request.environ
    asked = request.args.get("lang") if environ.get("QUERY_STRING") else None
    return choose_lang(asked, environ.get("HTTP_ACCEPT_LANGUAGE"))


def choose_lang(asked: str | None, accept_language: str | None) -> str:
    """The language of an answer from the query's `lang` and the Accept-Language header (either
    None when absent); what `negotiate_lang` decides, without a request object."""
    if asked is not None:
        asked = asked.strip().lower()
        return asked if asked in LANGS else DEFAULT_LANG
    if not accept_language:  # nothing to parse
        return DEFAULT_LANG
    return parse_accept_header(accept_language, LanguageAccept).best_match(
        LANGS, default=DEFAULT_LANG
    )


def query_args(environ: Mapping[str, Any]) -> MultiDict | None:
    """The query's parameters as Werkzeug's `request.args` reads them; None without a query."""
    query = environ.get("QUERY_STRING")
    if not query:
        return None
    return MultiDict(
        parse_qsl(
            query.encode("latin1").decode(), keep_blank_values=True, errors="werkzeug.url_quote"
        )
    )


def flag(name: str, default: bool, args: Mapping[str, str] | None = None) -> bool:
    """A true/false query parameter (of `args`, else of the current request's query)."""
    if args is None:
        args = request.args if request.environ.get("QUERY_STRING") else {}
    raw = args.get(name)
    if raw is None:
        return default
    value = parse_bool(raw)
    if value is not None:
        return value
    raise BadParameter(
        f"Query parameter {name!r} must be true or false.",
        {name: [f"{raw!r} is not true or false."]},
    )


def is_json(mimetype: str) -> bool:
    """application/json, or any application/...+json."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def json_body() -> Any:
    mimetype = request.mimetype
    if not is_json(mimetype):
        raise UnsupportedMediaType(
            f"Send the case as application/json, not {mimetype or 'a body without a type'}."
        )
    return jsonio.loads(read_body())


def read_body() -> bytes:
    """The request body, refusing more than MAX_CONTENT_LENGTH bytes with a 413.

    With a Content-Length, Werkzeug refuses an oversized body before reading it; a chunked
    body has none, and Werkzeug would silently cut it at the limit, so read one byte past
    the limit to tell "exactly at the limit" from "over it".
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    expected = request.content_length
    try:
        if expected is None and request.environ.get("wsgi.input_terminated"):
            data = request.environ["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                raise RequestEntityTooLarge()
            return data
        data = request.get_data(cache=False)
    except ClientDisconnected:  # Werkzeug's word for a body that stopped arriving
        unreadable("The request body stopped arriving before its end.")
    except HTTPException:
        raise
    except Exception as error:  # the server's reader: a broken chunked encoding, a client gone
        unreadable(f"The request body could not be read: {type(error).__name__}.")
    if expected is not None and len(data) < expected:
        unreadable(
            f"The body ended after {len(data)} of the {expected} bytes its "
            "Content-Length announced."
        )
    return data


def unreadable(detail: str) -> NoReturn:
    """Refuse a body that cannot be read, and close the connection after the answer:
    whatever the client sends next on it cannot be told from the rest of this body."""
    request.environ[CLOSE_CONNECTION] = True
    raise UnreadableBody(detail)


def questions_param() -> int | None:
    """?questions=true (the default: the best few), all, or false; the most to list."""
    if not request.environ.get("QUERY_STRING"):  # no query: the default, without parsing one
        return DEFAULT_QUESTIONS
    return questions_of(request.args)


def questions_of(args: Mapping[str, str] | None) -> int | None:
    """What `questions_param` decides, from the query's parameters (None: no query)."""
    if args is None:
        return DEFAULT_QUESTIONS
    raw = args.get("questions")
    if raw is not None and raw.strip().lower() == "all":
        return None
    return DEFAULT_QUESTIONS if flag("questions", True, args) else 0


def messages_param() -> tuple:
    """?messages=true (the default: what to send now), all (the escalation letters too),
    or false."""
    if not request.environ.get("QUERY_STRING"):
        return DEFAULT_MESSAGES
    return messages_of(request.args)


def messages_of(args: Mapping[str, str] | None) -> tuple:
    """What `messages_param` decides, from the query's parameters (None: no query)."""
    if args is None:
        return DEFAULT_MESSAGES
    raw = args.get("messages")
    if raw is not None and raw.strip().lower() == "all":
        return ALL_MESSAGES
    return DEFAULT_MESSAGES if flag("messages", True, args) else ()


def localized(response: Response, lang: str) -> Response:
    headers = response.headers
    headers["Content-Language"] = lang
    if "Vary" in headers:
        response.vary.add("Accept-Language")
    else:  # what vary.add writes on a fresh answer, without parsing the header first
        headers["Vary"] = "Accept-Language"
    return response
