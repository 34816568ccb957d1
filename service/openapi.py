"""openapi.yaml, generated from the same schemas that validate requests.

`dispute-guide openapi > openapi.yaml` (or `make openapi`) writes it; a test fails when
the committed file differs from what this module generates, so it cannot drift.
"""

from __future__ import annotations

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas import guidance as out
from schemas.batch import BATCH_SCHEMAS
from schemas.case import StrictBoolean, UniqueList, case_schema
from schemas.common import LANGS
from schemas.problem import ProblemSchema
from service.config import FALSE_WORDS, TRUE_WORDS
from service.lines import MAX_LINE_BYTES, NDJSON
from service.model import Rulebook

PROBLEM = "application/problem+json"
CONTACT = {"name": "dispute-guide maintainers", "url": "https://pypi.org/project/dispute-guide/"}
SERVERS = [
    {
        "url": "http://127.0.0.1:8000",
        "description": "`dispute-guide serve` with its default DISPUTE_GUIDE_BIND",
    }
]
TAGS = [
    {"name": "guidance", "description": "Cases in, ordered and explained steps out."},
    {
        "name": "catalogue",
        "description": "What the rules can say: the steps, the rules, the facts.",
    },
    {"name": "operations", "description": "Probes, metrics and this contract, for operators."},
]
SHARED_ENUMS = {
    "Lang": LANGS,
    "StepKind": ("do", "avoid"),
    # true, false, all, then the other spellings of true and false, in pairs
    "Flag": ("true", "false", "all")
    + tuple(word for pair in zip(TRUE_WORDS[1:], FALSE_WORDS[1:], strict=True) for word in pair),
}
# `null` and nothing else (a nullable reference: "this schema, or null").
NULL = {"type": "object", "nullable": True, "enum": [None]}


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
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
ANY_CASE = {
    "description": "A case, as `POST /v1/guidance` takes it. Any JSON value is accepted "
    "here: one that is not a valid case is answered at its place with a "
    "result holding its `problem`, and the others are evaluated.",
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
                            "description": "One case per line; "
                            + ANY_CASE["description"][0].lower()
                            + ANY_CASE["description"][1:],
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
                "400": _problem("Malformed JSON (the whole JSON body)."),
                "413": _problem(
                    "The JSON body is larger than the byte limit, or has more "
                    "cases than the batch limit (type ending `batch-too-large`)."
                ),
                "415": _problem(f"The body is neither application/json nor {NDJSON}."),
                "422": _problem(
                    'The JSON body is not `{"cases": [...]}` (`errors` says '
                    "where), or a query parameter is invalid."
                ),
                "503": _problem(
                    "A JSON batch ran longer than DISPUTE_GUIDE_REQUEST_TIMEOUT "
                    "seconds (type ending `timeout`); NDJSON streams have no "
                    "such limit."
                ),
            },
        }
    }


def _paths() -> dict:
    bad_json = _problem(
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
                    "413": _problem("The body is larger than the limit."),
                    "415": _problem("The body is not application/json."),
                    "422": _problem(
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
                    "503": _problem("Not ready."),
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
                    "401": _problem("A metrics key is configured and was not sent."),
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


def build_spec(rulebook: Rulebook) -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="dispute-guide",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "What a freelancer should do in a dispute with a client: facts in, "
            "ordered and explained steps, warnings and follow-up questions out. "
            "Every error is application/problem+json (RFC 9457), its texts in "
            "the language asked for (`?lang=ru` or `Accept-Language: ru`).",
            "contact": CONTACT,
        },
        servers=SERVERS,
        tags=TAGS,
    )
    plugin.converter.map_to_openapi_type(StrictBoolean, "boolean", None)

    def unique_items(self, field, **kwargs):
        return {"uniqueItems": True} if isinstance(field, UniqueList) else {}

    plugin.converter.add_attribute_function(unique_items)
    spec.components.schema("Case", schema=case_schema(rulebook.facts.values()))
    for name, schema in [
        ("Guidance", out.GuidanceSchema),
        ("StepCatalogue", out.StepCatalogueSchema),
        ("Rules", out.RulesSchema),
        ("Health", out.HealthSchema),
        ("Ready", out.ReadySchema),
        ("Problem", ProblemSchema),
    ]:
        spec.components.schema(name, schema=schema)
    for name, schema in BATCH_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    document = spec.to_dict()
    document["paths"] = _paths()
    cases = document["components"]["schemas"]["BatchRequest"]["properties"]["cases"]
    cases["items"] = ANY_CASE
    _one_type_per_enum(document["components"]["schemas"])
    unauthorized = _problem(
        "API keys are configured and none, or a wrong one, was sent "
        "(`Authorization: Bearer <key>`)."
    )
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            for operation in item.values():
                operation["responses"].setdefault("401", unauthorized)
    document["components"]["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "Needed on /v1/* when the service has API keys.",
        }
    }
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            for operation in item.values():
                operation["security"] = [{}, {"apiKey": []}]
    # gunicorn answers these itself, on any path, before the app sees the request.
    for item in document["paths"].values():
        for operation in item.values():
            operation["responses"].setdefault(
                "414", _problem("The request line (path and query) is too long.")
            )
            operation["responses"].setdefault(
                "431", _problem("The request's headers are too many or too large.")
            )
    return document


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.replace(".", "_").split("_"))


def _one_type_per_enum(schemas: dict) -> None:
    """Every enumeration once, as a named schema; a nullable one referred to as "it or null".

    Written inline with `nullable` (and `null` among the values, as OpenAPI 3.0.3 needs),
    a generated client makes several identical classes per enumeration. Named, each is one
    type: `CaseStage`, `Lang`, `StepKind`.
    """
    named = {tuple(values): name for name, values in SHARED_ENUMS.items()}
    for name, values in SHARED_ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values)}

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    for owner in [n for n in schemas if n not in SHARED_ENUMS]:
        properties = schemas[owner].get("properties", {})
        for prop, field in properties.items():
            if "anyOf" in field and field["anyOf"][-1] == {"type": "object", "nullable": True}:
                field["anyOf"][-1] = NULL  # an object or null, not any object
            if "enum" not in field:
                continue
            values = [v for v in field["enum"] if v is not None]
            nullable = field.get("nullable", False) or None in field["enum"]
            target = named.get(tuple(values))
            if target is None:
                target = owner + _camel(prop)
                schemas[target] = {"type": field["type"], "enum": values}
            described = {"description": field["description"]} if "description" in field else {}
            properties[prop] = (
                {**described, "anyOf": [ref(target), NULL]}
                if nullable
                else {**described, "allOf": [ref(target)]}
            )


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def render(rulebook: Rulebook) -> str:
    return (
        "# Generated by `dispute-guide openapi` from the schemas and rules/facts.yaml: "
        "do not edit.\n"
        + yaml.dump(
            build_spec(rulebook), Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100
        )
    )
