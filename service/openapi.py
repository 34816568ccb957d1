"""openapi.yaml, generated from the same schemas that validate requests.

`dispute-guide openapi > openapi.yaml` (or `make openapi`) writes it; a test fails when
the committed file differs from what this module generates, so it cannot drift.
"""

from __future__ import annotations

import yaml

from schemas import guidance as out
from service import batch
from schemas.case import StrictBoolean, UniqueList, case_schema
from schemas.problem import ProblemSchema
from service.rulebook import Rulebook

PROBLEM = "application/problem+json"


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _ok(schema: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


LANG_PARAM = {
    "name": "lang", "in": "query", "required": False,
    "description": "Language of the texts (en or ru); before Accept-Language. Others fall back "
                   "to en, as the Content-Language header says.",
    "schema": {"type": "string"},
}
QUESTIONS_PARAM = {
    "name": "questions", "in": "query", "required": False,
    "description": "true (the default) lists the 5 best follow-up questions, all lists every "
                   "one, false skips them (a little faster).",
    "schema": {"type": "string", "enum": ["true", "false", "all", "1", "0", "yes", "no"]},
}
MESSAGES_PARAM = {
    "name": "messages", "in": "query", "required": False,
    "description": "true (the default) composes the ready-to-send messages of the plan's `now` "
                   "phase, all adds the escalation letters (`fallback`), false none.",
    "schema": {"type": "string", "enum": ["true", "false", "all", "1", "0", "yes", "no"]},
}
CONTENT_LANGUAGE = {"Content-Language": {"description": "The language of the texts.",
                                         "schema": {"type": "string"}}}


def _paths() -> dict:
    bad_json = _problem("Malformed JSON, invalid UTF-8, duplicate keys, non-finite numbers, "
                        "or a body that could not be read to its end.")
    guidance_ok = _ok("Guidance", "The ordered, explained steps and the follow-up questions.")
    guidance_ok["headers"] = CONTENT_LANGUAGE
    steps_ok = _ok("StepCatalogue", "Every step the rules can give.")
    steps_ok["headers"] = CONTENT_LANGUAGE
    rules_ok = _ok("Rules", "The rules, the facts they read and the ruleset version.")
    rules_ok["headers"] = CONTENT_LANGUAGE
    return {
        "/v1/guidance": {"post": {
            "operationId": "getGuidance",
            "summary": "One case in, one guidance out.",
            "parameters": [LANG_PARAM, QUESTIONS_PARAM, MESSAGES_PARAM],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}},
            "responses": {
                "200": guidance_ok,
                "400": bad_json,
                "413": _problem("The body is larger than the limit."),
                "415": _problem("The body is not application/json."),
                "422": _problem("The case does not match the schema; `errors` is keyed by field path."),
            },
        }},
        "/v1/steps": {"get": {
            "operationId": "listSteps", "summary": "The step catalogue, localized.",
            "parameters": [LANG_PARAM], "responses": {"200": steps_ok}}},
        "/v1/rules": {"get": {
            "operationId": "listRules", "summary": "The rules as loaded, and the ruleset version.",
            "parameters": [LANG_PARAM], "responses": {"200": rules_ok}}},
        "/healthz": {"get": {
            "operationId": "healthz", "summary": "Liveness: the process answers.",
            "responses": {"200": _ok("Health", "Alive.")}}},
        "/readyz": {"get": {
            "operationId": "readyz",
            "summary": "Readiness: rules compiled and a probe case evaluated.",
            "responses": {"200": _ok("Ready", "Ready to serve."),
                          "503": _problem("Not ready.")}}},
        "/metrics": {"get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics, summed over the workers "
                       "(behind DISPUTE_GUIDE_METRICS_KEY when set).",
            "responses": {"200": {"description": "Prometheus text exposition format.",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "401": _problem("A metrics key is configured and was not sent.")}}},
        "/openapi.yaml": {"get": {
            "operationId": "openapi", "summary": "This contract.",
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/yaml": {"schema": {"type": "object"}}}}}}},
    }


def build_spec(rulebook: Rulebook) -> dict:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="dispute-guide",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "What a freelancer should do in a dispute with a client: facts in, "
                             "ordered and explained steps, warnings and follow-up questions out. "
                             "Every error is application/problem+json (RFC 9457)."},
    )
    plugin.converter.map_to_openapi_type(StrictBoolean, "boolean", None)

    def unique_items(self, field, **kwargs):
        return {"uniqueItems": True} if isinstance(field, UniqueList) else {}

    plugin.converter.add_attribute_function(unique_items)
    spec.components.schema("Case", schema=case_schema(rulebook.facts.values()))
    for name, schema in [("Guidance", out.GuidanceSchema), ("StepCatalogue", out.StepCatalogueSchema),
                         ("Rules", out.RulesSchema), ("Health", out.HealthSchema),
                         ("Ready", out.ReadySchema), ("Problem", ProblemSchema)]:
        spec.components.schema(name, schema=schema)
    for name, schema in batch.openapi_schemas().items():
        spec.components.schema(name, schema=schema)
    document = spec.to_dict()
    document["paths"] = _paths()
    document["paths"].update(batch.openapi_paths())
    unauthorized = _problem("API keys are configured and none, or a wrong one, was sent "
                            "(`Authorization: Bearer <key>`).")
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            for operation in item.values():
                operation["responses"].setdefault("401", unauthorized)
    document["components"]["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer",
                   "description": "Needed on /v1/* when the service has API keys."}}
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            for operation in item.values():
                operation["security"] = [{}, {"apiKey": []}]
    # gunicorn answers these itself, on any path, before the app sees the request.
    for item in document["paths"].values():
        for operation in item.values():
            operation["responses"].setdefault(
                "414", _problem("The request line (path and query) is too long."))
            operation["responses"].setdefault(
                "431", _problem("The request's headers are too many or too large."))
    return document


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def render(rulebook: Rulebook) -> str:
    return ("# Generated by `dispute-guide openapi` from the schemas and rules/facts.yaml: "
            "do not edit.\n" + yaml.dump(build_spec(rulebook), Dumper=_NoAliases, sort_keys=False,
                                         allow_unicode=True, width=100))
