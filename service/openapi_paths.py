"""The paths of openapi.yaml: each operation, its parameters and its answers.

service/openapi.py adds the component schemas (from schemas/) and what every operation
shares (the key, the answers gunicorn gives itself).
"""

from __future__ import annotations

from service.lines import MAX_LINE_BYTES, NDJSON
from service.problems import PROBLEM_TYPE


def problem(description: str) -> dict:
    return {
        "description": description,
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _ok(schema: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


LANG_PARAM = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "Language of the texts (en or ru); before Accept-Language. Others fall back "
    "to en, as the Content-Language header says.",
    "schema": {"anyOf": [{"$ref": "#/components/schemas/Lang"}, {"type": "string"}]},
}
QUESTIONS_PARAM = {
    "name": "questions",
    "in": "query",
    "required": False,
    "description": "true (the default) lists the 5 best follow-up questions, all lists every "
    "one, false skips them (a little faster).",
    "schema": {"$ref": "#/components/schemas/Flag"},
}
MESSAGES_PARAM = {
    "name": "messages",
    "in": "query",
    "required": False,
    "description": "true (the default) composes the ready-to-send messages of the plan's `now` "
    "phase, all adds the escalation letters (`fallback`), false none.",
    "schema": {"$ref": "#/components/schemas/Flag"},
}
CONTENT_LANGUAGE = {
    "Content-Language": {"description": "The language of the texts.", "schema": {"type": "string"}}
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# A batch takes any JSON value as a case and answers each bad one with its own problem.
ANY_CASE_TEXT = (
    "any JSON value is accepted here: one that is not a valid case is answered at its place "
    "with a result holding its `problem`, and the others are evaluated."
)
ANY_CASE = {
    "description": "A case, as `POST /v1/guidance` takes it. A" + ANY_CASE_TEXT[1:],
    "anyOf": [_ref("Case"), {}],
}


def _batch_path() -> dict:
    return {
        "post": {
            "operationId": "evaluateBatch",
            "tags": ["guidance"],
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
                    NDJSON: {
                        "schema": {
                            **ANY_CASE,
                            "description": "One case per line; a case, as `POST /v1/guidance` "
                            "takes it. A" + ANY_CASE_TEXT[1:],
                        }
                    },
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
                "400": problem("Malformed JSON (the whole JSON body)."),
                "413": problem(
                    "The JSON body is larger than the byte limit, or has more "
                    "cases than the batch limit (type ending `batch-too-large`)."
                ),
                "415": problem(f"The body is neither application/json nor {NDJSON}."),
                "422": problem(
                    'The JSON body is not `{"cases": [...]}` (`errors` says '
                    "where), or a query parameter is invalid."
                ),
                "503": problem(
                    "A JSON batch ran longer than DISPUTE_GUIDE_REQUEST_TIMEOUT "
                    "seconds (type ending `timeout`); NDJSON streams have no "
                    "such limit."
                ),
            },
        }
    }


def paths() -> dict:
    bad_json = problem(
        "Malformed JSON, invalid UTF-8, duplicate keys, non-finite numbers, "
        "or a body that could not be read to its end."
    )
    guidance_ok = _ok("Guidance", "The ordered, explained steps and the follow-up questions.")
    guidance_ok["headers"] = CONTENT_LANGUAGE
    steps_ok = _ok("StepCatalogue", "Every step the rules can give.")
    steps_ok["headers"] = CONTENT_LANGUAGE
    rules_ok = _ok("Rules", "The rules, the facts they read and the ruleset version.")
    rules_ok["headers"] = CONTENT_LANGUAGE
    return {
        "/v1/guidance": {
            "post": {
                "operationId": "evaluateCase",
                "tags": ["guidance"],
                "summary": "One case in, one guidance out.",
                "description": (
                    "Evaluates the facts of one case against the rules. Only `situations` is "
                    "required; an absent field (or `null`) means unknown, which is not `false`. "
                    "The answer lists the steps in order, each with the rules and facts behind it, "
                    "and the follow-up questions whose answers would change the steps. Errors are "
                    "`application/problem+json` in the language asked for, with `errors` keyed "
                    "by field path."
                ),
                "parameters": [LANG_PARAM, QUESTIONS_PARAM, MESSAGES_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Case"}}
                    },
                },
                "responses": {
                    "200": guidance_ok,
                    "400": bad_json,
                    "413": problem("The body is larger than the limit."),
                    "415": problem("The body is not application/json."),
                    "422": problem(
                        "The case does not match the schema; `errors` is keyed by field path."
                    ),
                },
            }
        },
        "/v1/steps": {
            "get": {
                "operationId": "listSteps",
                "tags": ["catalogue"],
                "summary": "The step catalogue, localized.",
                "description": "Every step the rules can recommend, with its stable id, kind, "
                "category and texts, in the order answers use.",
                "parameters": [LANG_PARAM],
                "responses": {"200": steps_ok},
            }
        },
        "/v1/rules": {
            "get": {
                "operationId": "listRules",
                "tags": ["catalogue"],
                "summary": "The rules as loaded, and the ruleset version.",
                "description": "Each rule with its conditions as written and the steps it adds or "
                "removes, and every fact a case may hold, with its type, values and "
                "follow-up question.",
                "parameters": [LANG_PARAM],
                "responses": {"200": rules_ok},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "checkLiveness",
                "tags": ["operations"],
                "summary": "Liveness: the process answers.",
                "description": "For a liveness probe; needs no key.",
                "responses": {"200": _ok("Health", "Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "checkReadiness",
                "tags": ["operations"],
                "summary": "Readiness: rules compiled and a probe case evaluated.",
                "description": "For a readiness probe or a load balancer's health check; needs no "
                "key. Also says when the last rule reload failed (the last good "
                "rules still serve).",
                "responses": {
                    "200": _ok("Ready", "Ready to serve."),
                    "503": problem("Not ready."),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "getMetrics",
                "tags": ["operations"],
                "summary": "Prometheus metrics, summed over the workers.",
                "description": "Requests, durations, evaluations, rules fired, validation errors "
                "and rule reloads, in the Prometheus text format; behind "
                "DISPUTE_GUIDE_METRICS_KEY when it is set.",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": problem("A metrics key is configured and was not sent."),
                },
            }
        },
        "/openapi.yaml": {
            "get": {
                "operationId": "getOpenapi",
                "tags": ["operations"],
                "summary": "This contract.",
                "description": "The OpenAPI document of the service, "
                "as generated from its schemas.",
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/yaml": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/v1/guidance/batch": _batch_path(),
    }
