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
from service.model import Rulebook
from service.openapi_paths import ANY_CASE, paths, problem

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
    converter = plugin.converter
    if converter is None:  # set when the plugin joined the spec, just above
        raise RuntimeError("the marshmallow plugin has no converter")
    converter.map_to_openapi_type(StrictBoolean, "boolean", None)

    def unique_items(self, field, **kwargs):
        return {"uniqueItems": True} if isinstance(field, UniqueList) else {}

    converter.add_attribute_function(unique_items)
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
    document["paths"] = paths()
    cases = document["components"]["schemas"]["BatchRequest"]["properties"]["cases"]
    cases["items"] = ANY_CASE
    _one_type_per_enum(document["components"]["schemas"])
    unauthorized = problem(
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
                "414", problem("The request line (path and query) is too long.")
            )
            operation["responses"].setdefault(
                "431", problem("The request's headers are too many or too large.")
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
            kept = [v for v in field["enum"] if v is not None]
            nullable = field.get("nullable", False) or None in field["enum"]
            target = named.get(tuple(kept))
            if target is None:
                target = owner + _camel(prop)
                schemas[target] = {"type": field["type"], "enum": kept}
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
