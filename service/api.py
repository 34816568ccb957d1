"""HTTP API v1: guidance for one case, the step catalogue, the rules as loaded."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from service import jsonio
from service.engine import Guidance
from service.errors import (BadParameter, UnreadableBody, UnsupportedMediaType, ValidationFailed,
                            flatten_messages)
from service.rulebook import Rulebook
from service.state import Loaded, loaded

CLOSE_CONNECTION = "dispute_guide.close_connection"  # read by service/worker.py
LANGS = ("en", "ru")
DEFAULT_LANG = "en"

bp = Blueprint("v1", __name__, url_prefix="/v1")


# --- request helpers -------------------------------------------------------

def negotiate_lang() -> str:
    """?lang= first, then Accept-Language, then English; unsupported ones fall back to English."""
    asked = request.args.get("lang")
    if asked is not None:
        asked = asked.strip().lower()
        return asked if asked in LANGS else DEFAULT_LANG
    return request.accept_languages.best_match(LANGS, default=DEFAULT_LANG)


def flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadParameter(f"Query parameter {name!r} must be true or false.",
                       {name: [f"{raw!r} is not true or false."]})


def json_body() -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json" and not (
            mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise UnsupportedMediaType(
            f"Send the case as application/json, not {mimetype or 'a body without a type'}.")
    return jsonio.loads(read_body())


def read_body() -> bytes:
    """The request body, refusing more than MAX_CONTENT_LENGTH bytes with a 413.

    With a Content-Length, Werkzeug refuses an oversized body before reading it; a chunked
    body has none, and Werkzeug would silently cut it at the limit, so read one byte past
    the limit to tell "exactly at the limit" from "over it".
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    expected = request.content_length
    try:
        if expected is None and request.environ.get("wsgi.input_terminated"):
            data = request.environ["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                raise RequestEntityTooLarge()
            return data
        data = request.get_data(cache=False)
    except ClientDisconnected:  # Werkzeug's word for a body that stopped arriving
        unreadable("The request body stopped arriving before its end.")
    except HTTPException:
        raise
    except Exception as error:  # the server's reader: a broken chunked encoding, a client gone
        unreadable(f"The request body could not be read: {type(error).__name__}.")
    if expected is not None and len(data) < expected:
        unreadable(f"The body ended after {len(data)} of the {expected} bytes its "
                   "Content-Length announced.")
    return data


def unreadable(detail: str) -> None:
    """Refuse a body that cannot be read, and close the connection after the answer:
    whatever the client sends next on it cannot be told from the rest of this body."""
    request.environ[CLOSE_CONNECTION] = True
    raise UnreadableBody(detail)


def validate_case(state: Loaded, data: Any) -> dict:
    try:
        return state.schema.load(data)
    except ma.ValidationError as error:
        raise ValidationFailed("The case does not match the schema; see `errors`.",
                               flatten_messages(error.messages)) from None


def localized(response: Response, lang: str) -> Response:
    response.headers["Content-Language"] = lang
    response.vary.add("Accept-Language")
    return response


# --- rendering ---------------------------------------------------------------

def render_guidance(guidance: Guidance, lang: str) -> dict:
    facts = guidance.facts
    body: dict[str, Any] = {
        "case_id": guidance.case_id,
        "ruleset_version": guidance.ruleset_version,
        "lang": lang,
        "steps": [
            {
                "id": advice.step.id,
                "kind": advice.step.kind,
                "category": advice.step.category,
                "title": advice.step.texts[lang]["title"],
                "detail": advice.step.texts[lang]["detail"],
                "because": [{"rule": rule.id, "facts": {n: facts.get(n) for n in rule.reads}}
                            for rule in advice.because],
            }
            for advice in guidance.steps
        ],
        "rules_fired": [rule.id for rule in guidance.rules_fired],
    }
    if guidance.questions is not None:
        body["questions"] = [
            {
                "field": q.fact.name,
                "question": q.fact.question[lang],
                "options": [{"value": o.answer.value, "label": o.answer.labels[lang],
                             "add": list(o.add), "remove": list(o.remove)} for o in q.options],
            }
            for q in guidance.questions
        ]
    return body


def describe_facts(rulebook: Rulebook, lang: str) -> list[dict]:
    facts = []
    for fact in rulebook.facts.values():
        entry: dict[str, Any] = {"name": fact.name, "type": fact.type,
                                 "required": fact.required, "description": fact.description}
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
    with_questions = flag("questions", True)
    state = loaded()
    case = validate_case(state, json_body())
    g.case_id = case.get("case_id")  # for the request's log line
    return localized(jsonify(render_guidance(state.engine.evaluate(case, with_questions), lang)),
                     lang)


@bp.get("/steps")
def steps():
    """The step catalogue, localized."""
    lang = negotiate_lang()
    rulebook = loaded().rulebook
    body = {
        "ruleset_version": rulebook.version,
        "lang": lang,
        "categories": list(rulebook.categories),
        "steps": [{"id": s.id, "kind": s.kind, "category": s.category, "order": s.order,
                   "section": s.section, **s.texts[lang]}
                  for s in sorted(rulebook.steps.values(), key=lambda s: s.rank)],
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
        "rules": [{"id": r.id, "file": r.file, "description": r.description, "when": r.source,
                   "add": list(r.add), "remove": list(r.remove), "reads": list(r.reads)}
                  for r in rulebook.rules],
        "facts": describe_facts(rulebook, lang),
    }
    return localized(jsonify(body), lang)
