"""HTTP API v1: guidance for one case, the step catalogue, the rules as loaded.

A thin edge: the core (service/core.py) validates and renders, service/http.py reads the
request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from schemas.rules import PHASES
from service.core import render_guidance, validated
from service.http import json_body, localized, messages_param, negotiate_lang, questions_param
from service.model import Rulebook
from service.names import LANE_FAILURE
from service.state import loaded

bp = Blueprint("v1", __name__, url_prefix="/v1")


def describe_facts(rulebook: Rulebook, lang: str) -> list[dict]:
    facts = []
    for fact in rulebook.facts.values():
        entry: dict[str, Any] = {
            "name": fact.name,
            "type": fact.type,
            "required": fact.required,
            "description": fact.description,
        }
        if fact.values:
            entry["values"] = list(fact.values)
        if fact.type == "integer":
            entry["min"], entry["max"] = fact.min, fact.max
        if fact.question:
            entry["question"] = fact.question[lang]
        if fact.labels:
            entry["labels"] = {value: text[lang] for value, text in fact.labels.items()}
        entry["read_by"] = [rule.id for rule in rulebook.rules_reading.get(fact.name, ())]
        facts.append(entry)
    return facts


# --- routes ------------------------------------------------------------------


@bp.post("/guidance")
def guidance():
    """One case in, one guidance out."""
    lang = negotiate_lang()
    most = questions_param()
    state = loaded()
    case, facts = validated(state, json_body())
    g.case_id = case.get("case_id")  # for the request's log line
    failure = request.environ.get(LANE_FAILURE)
    if failure is not None:  # the lean path's evaluation of this very case failed: answer it
        raise failure
    guidance = state.engine.evaluate(case, most != 0, facts)
    return localized(jsonify(render_guidance(guidance, lang, most, messages_param())), lang)


@bp.get("/steps")
def steps():
    """The step catalogue, localized."""
    lang = negotiate_lang()
    rulebook = loaded().rulebook
    body = {
        "ruleset_version": rulebook.version,
        "lang": lang,
        "categories": list(rulebook.categories),
        "phases": list(PHASES),
        "steps": [
            {
                "id": s.id,
                "kind": s.kind,
                "category": s.category,
                "order": s.order,
                "section": s.section,
                "source": s.source,
                "source_label": rulebook.source_labels[s.id][lang],
                "phase": s.phase,
                **s.texts[lang],
            }
            for s in sorted(rulebook.steps.values(), key=lambda s: s.rank)
        ],
    }
    return localized(jsonify(body), lang)


@bp.get("/rules")
def rules():
    """The rules as loaded, the facts they read, and the ruleset version."""
    lang = negotiate_lang()
    rulebook = loaded().rulebook
    body = {
        "ruleset_version": rulebook.version,
        "lang": lang,
        "rules": [
            {
                "id": r.id,
                "file": r.file,
                "description": r.description,
                "when": r.source,
                "reason": r.reason[lang],
                "add": list(r.add),
                "remove": list(r.remove),
                "reads": list(r.reads),
            }
            for r in rulebook.rules
        ],
        "plan": {
            "conflicts": [
                {"steps": list(c.steps), "why": c.why, "by_supersession": c.by_supersession}
                for c in rulebook.conflicts
            ],
            "phase_shifts": [
                {"steps": list(p.steps), "phase": p.phase, "when_given": list(p.when_given)}
                for p in rulebook.phase_shifts
            ],
        },
        "implications": [
            {"when": i.source, "then": i.then, "why": i.why} for i in rulebook.implications
        ],
        "facts": describe_facts(rulebook, lang),
    }
    return localized(jsonify(body), lang)
