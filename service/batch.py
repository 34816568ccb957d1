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

from schemas.case import MAX_STRING
from schemas.guidance import GuidanceSchema
from schemas.problem import ProblemSchema
from service import jsonio
from service.core import Loaded, render_guidance, validate_case
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
from service.lines import MAX_LINE_BYTES, dumps_line, read_lines
from service.observability import metrics
from service.problems import ApiError, UnsupportedMediaType, flatten_messages
from service.state import loaded
from service.tally import Tally

NDJSON = "application/x-ndjson"

log = logging.getLogger("dispute_guide")
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
        metrics(current_app).validation_errors.labels(
            request.url_rule.rule, str(error.status)
        ).inc()
    return {"case_id": case_id, "status": error.status, "problem": problem_of(error)}


def evaluate_entry(state: Loaded, data: Any, lang: str, options: tuple, tally: Tally) -> dict:
    """The result for one case as sent: its guidance, or the problem the single endpoint gives.

    `options`: the most questions to list (None: all) and the phases whose messages to
    compose, as the single endpoint's query parameters say."""
    case_id = echoed_case_id(data)
    questions, messages = options
    try:
        case = validate_case(state, data)
        guidance = state.engine.evaluate(case, questions != 0)
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


class BatchRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    cases = ma.fields.List(
        ma.fields.Raw(allow_none=True, metadata={"allOf": [{"$ref": "#/components/schemas/Case"}]}),
        required=True,
        metadata={
            "description": "The cases, each as POST /v1/guidance takes it. An invalid "
            "case gives a problem result at its index, not a failed batch."
        },
    )


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


# --- the contract ------------------------------------------------------------------


class BatchResultSchema(ma.Schema):
    index = ma.fields.Integer(
        metadata={"description": "JSON batches: the case's position in `cases`, from 0."}
    )
    line = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "NDJSON: the case's line number, from 1 (null when the body broke off)."
        },
    )
    case_id = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The case's case_id, echoed (null when absent or itself invalid)."
        },
    )
    status = ma.fields.Integer(
        required=True,
        metadata={
            "description": "What POST /v1/guidance would answer for this case: 200, 400 (not "
            "JSON), 413 (line too long), 422 (invalid case), 500."
        },
    )
    guidance = ma.fields.Nested(
        GuidanceSchema,
        metadata={"description": "When status is 200: exactly what POST /v1/guidance answers."},
    )
    problem = ma.fields.Nested(
        ProblemSchema,
        metadata={"description": "Otherwise: exactly the error body POST /v1/guidance answers."},
    )


class SituationTallySchema(ma.Schema):
    cases = ma.fields.Integer(
        required=True, metadata={"description": "Evaluated cases with this situation."}
    )
    steps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Step id: how many of those cases it was "
            "recommended in; most frequent first."
        },
    )


class BatchSummarySchema(ma.Schema):
    cases = ma.fields.Integer(required=True, metadata={"description": "Cases received."})
    evaluated = ma.fields.Integer(required=True, metadata={"description": "Cases answered."})
    errors = ma.fields.Integer(
        required=True, metadata={"description": "Cases answered with a problem."}
    )
    steps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Step id: how many cases it was recommended in; most frequent first."
        },
    )
    situations = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SituationTallySchema),
        required=True,
        metadata={
            "description": "Per situation (a case counts for each of its situations), "
            "in catalogue order."
        },
    )


class BatchResponseSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(BatchResultSchema),
        required=True,
        metadata={"description": "One per case, in the order of `cases`."},
    )
    summary = ma.fields.Nested(BatchSummarySchema, required=True)


class BatchSummaryLineSchema(ma.Schema):
    summary = ma.fields.Nested(
        BatchSummarySchema,
        required=True,
        metadata={"description": "The last line of a complete NDJSON answer."},
    )


def openapi_schemas() -> dict:
    """Extra component schemas {name: marshmallow schema class} for openapi.yaml."""
    # Nested ones first, so that the later ones refer to them by these names.
    return {
        "BatchResult": BatchResultSchema,
        "BatchSituationTally": SituationTallySchema,
        "BatchSummary": BatchSummarySchema,
        "BatchRequest": BatchRequestSchema,
        "BatchResponse": BatchResponseSchema,
        "BatchSummaryLine": BatchSummaryLineSchema,
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_paths() -> dict:
    """The batch endpoint's part of openapi.yaml (merged by service/openapi.py)."""
    from service.openapi import CONTENT_LANGUAGE, LANG_PARAM, MESSAGES_PARAM, QUESTIONS_PARAM

    def problem_response(description: str) -> dict:
        return {
            "description": description,
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }

    return {
        "/v1/guidance/batch": {
            "post": {
                "operationId": "getGuidanceBatch",
                "summary": "Many cases in one request: JSON, or NDJSON streamed line by line.",
                "description": (
                    'With `application/json`, `{"cases": [...]}` (at most '
                    "`DISPUTE_GUIDE_BATCH_LIMIT` cases) answers "
                    '`{"results": [...], "summary": {...}}`, result `i` for case `i`.\n\n'
                    f"With `{NDJSON}`, one case per line: the answer streams one result per line "
                    '(chunked) while the body is read, then a last `{"summary": ...}` line; '
                    "a missing summary line means the answer is incomplete. The body has no "
                    f"size limit; a line may be at most {MAX_LINE_BYTES} bytes with its line "
                    "break (longer: a 413 result for that line). Blank lines are skipped, and "
                    "line numbers count every line. Send and read at the same time: a client "
                    "that sends a long body before reading any of the answer can block on full "
                    "buffers.\n\n"
                    "A case that is not JSON, too long or invalid gives a result with a "
                    "`problem` at its place, and the rest are evaluated: one bad case never "
                    "fails the batch."
                ),
                "parameters": [LANG_PARAM, QUESTIONS_PARAM, MESSAGES_PARAM],
                "requestBody": {
                    "required": True,
                    "description": f'`{{"cases": [...]}}`, or with {NDJSON} one case per line.',
                    "content": {
                        "application/json": {"schema": _ref("BatchRequest")},
                        NDJSON: {"schema": _ref("Case")},
                    },
                },
                "responses": {
                    "200": {
                        "description": "One result per case, in order, and the summary "
                        "(with NDJSON: one result per line, the summary line last).",
                        "headers": CONTENT_LANGUAGE,
                        "content": {
                            "application/json": {"schema": _ref("BatchResponse")},
                            NDJSON: {
                                "schema": {"oneOf": [_ref("BatchResult"), _ref("BatchSummaryLine")]}
                            },
                        },
                    },
                    "400": problem_response("Malformed JSON (the whole JSON body)."),
                    "413": problem_response(
                        "The JSON body is larger than the byte limit, or has more "
                        "cases than the batch limit (type ending `batch-too-large`)."
                    ),
                    "415": problem_response(f"The body is neither application/json nor {NDJSON}."),
                    "422": problem_response(
                        'The JSON body is not `{"cases": [...]}` (`errors` says '
                        "where), or a query parameter is invalid."
                    ),
                    "503": problem_response(
                        "A JSON batch ran longer than DISPUTE_GUIDE_REQUEST_TIMEOUT "
                        "seconds (type ending `timeout`); NDJSON streams have no "
                        "such limit."
                    ),
                },
            }
        }
    }
