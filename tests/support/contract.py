"""Validate answers against openapi.yaml: every answer a test sees must match the contract."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"
URI = "urn:dispute-guide:openapi"
NDJSON = "application/x-ndjson"


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(
        URI, Resource.from_contents(spec(), default_specification=DRAFT4)
    )


def check(path: str, method: str, status: int, content_type: str, body) -> None:
    """Raise if `body` is not what openapi.yaml promises for this operation and status."""
    operation = spec()["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path}: status {status} is not in the contract"
    media = content_type.split(";")[0].strip()
    content = responses[str(status)].get("content", {})
    assert media in content, f"{method} {path} {status}: {media} is not in the contract"
    schema = content[media]["schema"]
    if "$ref" in schema:
        schema = {"$ref": URI + schema["$ref"]}
    OAS30Validator(schema, registry=_registry()).validate(body)


def checked(response, path: str, method: str = "GET"):
    """A Flask test response, validated against the contract; returns its JSON."""
    body = response.get_json(force=True, silent=True)
    if body is None:
        body = response.get_data(as_text=True)
    check(path, method, response.status_code, response.content_type, body)
    return body


def _absolute_refs(schema):
    if isinstance(schema, dict):
        return {k: (URI + v if k == "$ref" else _absolute_refs(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_absolute_refs(v) for v in schema]
    return schema


def check_line(path: str, line) -> None:
    """One NDJSON line of a 200 answer against its schema in openapi.yaml.

    (contract.check resolves only a top-level $ref; this schema is a oneOf of two.)
    """
    schema = spec()["paths"][path]["post"]["responses"]["200"]["content"][NDJSON]["schema"]
    OAS30Validator(_absolute_refs(schema), registry=_registry()).validate(line)
