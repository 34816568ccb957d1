"""POST /v1/guidance/batch: many cases in one request, as JSON or as streamed NDJSON.

- `application/json`: `{"cases": [...]}` (at most BATCH_LIMIT cases, else 413) answers
  `{"results": [...], "summary": {...}}`; result `i` is the answer for case `i`.
- `application/x-ndjson`: one case per line in, one result per line out as each line is
  read (chunked), then one `{"summary": ...}` line. The body has no total size limit; a
  line may be at most MAX_LINE_BYTES. Blank lines are skipped.

A result is `{"index"|"line", "case_id", "status", "guidance"|"problem"}`: `guidance` is
exactly the body POST /v1/guidance answers for that case, `problem` exactly its error
body (same `errors` object), and `status` the status that endpoint would have answered.
One bad case never fails the batch. `Tally` (service/tally.py) and `read_lines`
(service/lines.py) are shared with the command line.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from werkzeug.wsgi import get_input_stream

from schemas.batch import BatchRequestSchema
from schemas.case import MAX_STRING
from service import jsonio
from service.core import Loaded, render_guidance, validated
from service.encoding import dumps_line
from service.errors import problem_of
from service.exceptions import EngineError
from service.http import (
    is_json,
    json_body,
    localized,
    messages_param,
    negotiate_lang,
    questions_param,
)
from service.lines import MAX_LINE_BYTES, NDJSON, read_lines
from service.names import LOGGER
from service.observability import metrics
from service.problems import ApiError, UnsupportedMediaType, flatten_messages
from service.state import loaded
from service.tally import Tally

log = logging.getLogger(LOGGER)
bp = Blueprint("batch", __name__, url_prefix="/v1")


class BatchTooLarge(ApiError):
    status, title, slug = 413, "Too many cases", "batch-too-large"


class InvalidBatch(ApiError):
    status, title, slug = 422, "Invalid batch", "batch-validation"


class LineTooLong(ApiError):
    status, title, slug = 413, "Line too long", "line-too-long"


class BatchTimedOut(ApiError):
    status, title, slug = 503, "Batch timed out", "timeout"


class InternalError(ApiError):
    status, title, slug = 500, "Internal Server Error", None


# --- evaluating ------------------------------------------------------------------


def echoed_case_id(data: Any) -> str | None:
    """The case_id of a case that may be invalid, when it is one the schema would accept."""
    if isinstance(data, dict):
        case_id = data.get("case_id")
        if type(case_id) is str and len(case_id) <= MAX_STRING:
            return case_id
    return None


def _failed(case_id: str | None, error: ApiError, tally: Tally) -> dict:
    tally.add_error()
    if 400 <= error.status < 500:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics(current_app).validation_errors.labels(route, str(error.status)).inc()
    return {"case_id": case_id, "status": error.status, "problem": problem_of(error)}


def evaluate_entry(state: Loaded, data: Any, lang: str, options: tuple, tally: Tally) -> dict:
    """The result for one case as sent: its guidance, or the problem the single endpoint gives.

    `options`: the most questions to list (None: all) and the phases whose messages to
    compose, as the single endpoint's query parameters say."""
    case_id = echoed_case_id(data)
    questions, messages = options
    try:
        case, facts = validated(state, data)
        guidance = state.engine.evaluate(case, questions != 0, facts)
        body = render_guidance(guidance, lang, questions, messages)
    except ApiError as error:
        return _failed(case_id, error, tally)
    except Exception as error:
        # A bug; logged for the operator, and the batch goes on with the next case.
        engine_failed = isinstance(error, EngineError)
        if engine_failed:
            metrics(current_app).engine_errors.inc()
        log.exception(
            "unexpected error in a batch",
            extra={"fields": {"event": "engine_error" if engine_failed else "unexpected_error"}},
        )
        return _failed(
            case_id, InternalError("The server failed on this case; it has been logged."), tally
        )
    tally.add(case["situations"], (advice.step.id for advice in guidance.steps))
    return {"case_id": case_id, "status": 200, "guidance": body}


# --- routes ----------------------------------------------------------------------


_batch_request = BatchRequestSchema()


@bp.post("/guidance/batch")
def guidance_batch():
    """Many cases in one request: JSON in and out, or NDJSON streamed line by line."""
    lang = negotiate_lang()
    with_questions = (questions_param(), messages_param())
    state = loaded()
    mimetype = request.mimetype
    if mimetype == NDJSON:
        response = Response(
            stream_with_context(_stream(state, lang, with_questions)), mimetype=NDJSON
        )
        response.headers["X-Accel-Buffering"] = "no"  # a proxy must not hold the lines back
        return localized(response, lang)
    if not is_json(mimetype):
        raise UnsupportedMediaType(
            f"Send the cases as application/json or {NDJSON}, "
            f"not {mimetype or 'a body without a type'}."
        )
    try:
        cases = _batch_request.load(json_body())["cases"]
    except ma.ValidationError as error:
        raise InvalidBatch(
            'The body must be {"cases": [...]}; see `errors`.', flatten_messages(error.messages)
        ) from None
    limit = current_app.config["BATCH_LIMIT"]
    if len(cases) > limit:
        raise BatchTooLarge(
            f"{len(cases)} cases is more than the limit of {limit} per request; "
            f"split them, or stream them as {NDJSON}."
        )
    tally = Tally()
    timeout = current_app.config["REQUEST_TIMEOUT"]
    deadline = time.monotonic() + timeout
    results = []
    for index, data in enumerate(cases):
        if time.monotonic() > deadline:
            raise BatchTimedOut(
                f"The batch took longer than {timeout} s and was stopped after "
                f"{index} of {len(cases)} cases; send fewer cases per request, "
                f"or stream them as {NDJSON}."
            )
        results.append({"index": index, **evaluate_entry(state, data, lang, with_questions, tally)})
    return localized(jsonify({"results": results, "summary": tally.summary(state.rulebook)}), lang)


class _Body:
    """The request body, read by line, counting the bytes it hands out.

    Not request.stream: that caps the body at MAX_BODY_BYTES (a per-request None falls
    back to it), and a stream of cases has no total size, only a longest line.
    """

    def __init__(self) -> None:
        stream = get_input_stream(request.environ, max_content_length=None)
        if isinstance(stream, io.RawIOBase):
            # werkzeug's LimitedStream (a Content-Length body): its readline goes byte by byte.
            stream = io.BufferedReader(stream, MAX_LINE_BYTES)
        self._readline = stream.readline
        self.expected = request.content_length
        self.received = 0

    def readline(self, size: int) -> bytes:
        line = self._readline(size)
        self.received += len(line)
        return line

    @property
    def cut_off(self) -> bool:
        """The body ended before its Content-Length: the client stopped sending."""
        return self.expected is not None and self.received < self.expected


def _cut_off_line() -> str:
    failure = ApiError(
        "The request body could not be read to its end; the results above "
        "are complete, no summary follows."
    )
    return dumps_line(
        {"line": None, "case_id": None, "status": failure.status, "problem": problem_of(failure)}
    )


def _stream(state: Loaded, lang: str, questions: tuple) -> Iterator[str]:
    tally = Tally()
    body = _Body()
    lines = read_lines(body)
    while True:
        try:
            item = next(lines, None)
        except Exception as error:  # a broken chunked body or a client gone: nothing to read
            log.warning(
                "the NDJSON body could not be read: %s",
                type(error).__name__,
                extra={"fields": {"event": "batch_body_broken"}},
            )
            yield _cut_off_line()
            return
        if item is None:
            break
        number, line = item
        if line is None:
            entry = _failed(
                None,
                LineTooLong(
                    f"Line {number} is longer than {MAX_LINE_BYTES} bytes; it was skipped."
                ),
                tally,
            )
        elif not line.strip():
            continue
        else:
            try:
                data = jsonio.loads(line)
            except ApiError as error:
                # One line of the stream is one JSON text: its own "line 1" would be a second
                # line number beside the stream's.
                detail = error.detail.replace(
                    "Malformed JSON at line 1, column", "Malformed JSON at column", 1
                )
                error.detail = f"Line {number}: {detail}"
                entry = _failed(None, error, tally)
            else:
                entry = evaluate_entry(state, data, lang, questions, tally)
        yield dumps_line({"line": number, **entry})
    if body.cut_off:  # a summary now would claim a complete batch
        log.warning(
            "the NDJSON body ended before its Content-Length",
            extra={"fields": {"event": "batch_body_broken"}},
        )
        yield _cut_off_line()
        return
    yield dumps_line({"summary": tally.summary(state.rulebook)})
