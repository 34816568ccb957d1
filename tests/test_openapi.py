"""openapi.yaml cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import validate

from service.openapi import render

ROOT = Path(__file__).resolve().parent.parent


def test_committed_openapi_equals_the_generated_one(state):
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == render(state.rulebook), (
        "openapi.yaml is out of date: run `make openapi` and commit the result"
    )


def test_openapi_is_a_valid_openapi_document(spec):
    validate(spec)


def test_every_route_of_the_app_is_in_the_contract(app, spec):
    routes = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint != "static" and not rule.endpoint.startswith("page.")
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
