"""The hot route without Flask's per-request machinery: POST /v1/guidance in its common form.

Flask and Werkzeug cost about as much per request as a bare endpoint's whole answer (a
request and a response object, the URL map, the contexts, four hooks, a header
structure), which is more than the evaluation they wrap. This WSGI middleware answers the
route's common request itself, with the very functions the Flask route and its hooks call:
the API key check and the CORS headers (service/security.py), the query and the language
(service/http.py), strict JSON (service/jsonio.py), validation, evaluation and rendering
(service/core.py), the answer's encoder (service/encoding.py), the request id, the metrics
and the log line (service/observability.py).

It takes a request only whole and only when nothing about it is unusual; everything else
goes to Flask, which answers it as it always has:
- another route or method, or a configuration that compresses answers (COMPRESS_API);
- a key that is missing or wrong (Flask answers the 401);
- a body that is not `application/json` with a Content-Length within the limit, or that
  does not arrive in full (Flask then reads what did arrive, and answers the 400);
- a query, a JSON document or a case that is refused (Flask answers the 400 or the 422
  with its problem);
- a failure of the evaluation or of the rendering: Flask reads and validates the case
  again, and then raises the very error (service/api.py reads it from the environ under
  LANE_FAILURE) instead of evaluating a second time, so it answers the 500 and logs and
  counts the failure once, as if it had met it itself.
When a body was read and the request then goes to Flask, Flask reads the same bytes again
(and then the same read error, if the reading failed). tests/test_fastlane.py proves that
every answer, with its status and headers, and the metrics and the log line, equal what
Flask alone gives, over generated cases, queries, headers and settings, and every refusal.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from service import observability, security
from service.core import render_guidance, validated
from service.encoding import dumps
from service.http import choose_lang, messages_of, query_args, questions_of
from service.jsonio import loads
from service.names import EXTENSION, LANE_FAILURE

ROUTE = "/v1/guidance"
# The Content-Types taken here: JSON with at most a UTF-8 charset (Flask takes the rest).
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
REQUEST_ID_KEY = "HTTP_" + observability.REQUEST_ID_HEADER.upper().replace("-", "_")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class FastLane:
    """WSGI middleware in front of Flask's `wsgi_app` (installed by service/app.py)."""

    def __init__(self, app: Flask, flask_wsgi: WSGIApp):
        self.app = app
        self.flask = flask_wsgi  # Flask's own WSGI app: everything this lane does not answer
        self.enabled = not app.config.get("COMPRESS_API", False)
        self.limit: int = app.config["MAX_CONTENT_LENGTH"]
        self.access = security.access(app)
        self.book = observability.bookkeeping(app)
        self.vary = "Accept-Language, Origin" if self.access.origins else "Accept-Language"
        self.answered = 0  # requests this lane answered itself (the tests read it)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != ROUTE
            or environ.get("REQUEST_METHOD") != "POST"
            or not self.enabled
        ):
            return self.flask(environ, start_response)
        started = time.perf_counter()
        answer = self._answer(environ)
        if answer is None:
            return self.flask(environ, start_response)
        payload, lang, case_id = answer
        request_id = observability.request_id_of(environ.get(REQUEST_ID_KEY, ""))
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Content-Language", lang),
            ("Vary", self.vary),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            *self.access.cors_headers("POST", ROUTE, environ.get("HTTP_ORIGIN")),
            (observability.REQUEST_ID_HEADER, request_id),
        ]
        self.answered += 1
        self.book.finish(ROUTE, "POST", ROUTE, 200, started, request_id, case_id)
        start_response("200 OK", headers)
        return [payload]

    def _answer(self, environ: dict) -> tuple[bytes, str, Any] | None:
        """The answer's bytes, language and case id; None to leave the request to Flask (with
        the body, when it was read, put back for Flask to read)."""
        if self.access.refusal("POST", ROUTE, environ.get("HTTP_AUTHORIZATION", "")):
            return None
        if environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if (
            not (length.isascii() and length.isdigit())
            or int(length) > self.limit
            or "HTTP_TRANSFER_ENCODING" in environ
        ):
            return None
        data = _read(environ, int(length))
        if data is None:
            return None
        try:
            args = query_args(environ)
            lang = choose_lang(
                args.get("lang") if args is not None else None,
                environ.get("HTTP_ACCEPT_LANGUAGE"),
            )
            most = questions_of(args)
            messages = messages_of(args)
            state = self.app.extensions[EXTENSION]
            case, facts = validated(state, loads(data))
        except Exception:  # noqa: BLE001 - a refusal: Flask reads it all again and words it
            environ["wsgi.input"] = io.BytesIO(data)
            return None
        try:
            guidance = state.engine.evaluate(case, most != 0, facts)
            payload = dumps(render_guidance(guidance, lang, most, messages)) + b"\n"
        except Exception as error:  # noqa: BLE001 - Flask answers it (the 500, logged) as its own
            environ["wsgi.input"] = io.BytesIO(data)
            environ[LANE_FAILURE] = error
            return None
        return payload, lang, case.get("case_id")


def _read(environ: dict, length: int) -> bytes | None:
    """Read exactly `length` bytes of the body; None when it ended early or failed to read,
    with what was read put back in front of the stream's end (or of its error) for Flask."""
    stream = environ["wsgi.input"]
    data = b""
    try:
        while len(data) < length:
            chunk = stream.read(length - len(data))
            if not chunk:
                break
            data += chunk
    except Exception as error:  # noqa: BLE001 - Flask reads it again and words the problem
        environ["wsgi.input"] = _Replay(data, error)
        return None
    if len(data) < length:
        environ["wsgi.input"] = io.BytesIO(data)
        return None
    return data


class _Replay(io.RawIOBase):
    """A body read up to an error: its bytes, then the same error."""

    def __init__(self, data: bytes, error: Exception):
        self._data = io.BytesIO(data)
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._data.readinto(buffer)
        if count == 0 and len(buffer):
            raise self._error
        return count
