"""HTTP API v1: guidance for one case, the step catalogue, the rules as loaded."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from schemas import fastcase
from schemas.rules import PHASES
from service import jsonio
from service.engine import Guidance, flatten
from service.errors import (
    BadParameter,
    UnreadableBody,
    UnsupportedMediaType,
    ValidationFailed,
    flatten_messages,
)
from service.messages import compose
from service.plan import contradictions, settle
from service.rulebook import PLACEHOLDER, Rulebook
from service.state import Loaded, loaded

CLOSE_CONNECTION = "dispute_guide.close_connection"  # read by service/worker.py
LANGS = ("en", "ru")
DEFAULT_LANG = "en"
DEFAULT_QUESTIONS = 5  # the questions an answer lists unless ?questions=all
DEFAULT_MESSAGES = ("now",)  # the phases whose messages an answer holds unless ?messages=all
ALL_MESSAGES = ("now", "fallback")

bp = Blueprint("v1", __name__, url_prefix="/v1")


# --- request helpers -------------------------------------------------------


def negotiate_lang() -> str:
    """?lang= first, then Accept-Language, then English; unsupported ones fall back to English."""
    environ = request.environ
    asked = request.args.get("lang") if environ.get("QUERY_STRING") else None
    if asked is not None:
        asked = asked.strip().lower()
        return asked if asked in LANGS else DEFAULT_LANG
    if not environ.get("HTTP_ACCEPT_LANGUAGE"):  # nothing to parse
        return DEFAULT_LANG
    return request.accept_languages.best_match(LANGS, default=DEFAULT_LANG)


def flag(name: str, default: bool) -> bool:
    raw = request.args.get(name) if request.environ.get("QUERY_STRING") else None
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadParameter(
        f"Query parameter {name!r} must be true or false.",
        {name: [f"{raw!r} is not true or false."]},
    )


def json_body() -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json" and not (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"Send the case as application/json, not {mimetype or 'a body without a type'}."
        )
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
        unreadable(
            f"The body ended after {len(data)} of the {expected} bytes its "
            "Content-Length announced."
        )
    return data


def unreadable(detail: str) -> None:
    """Refuse a body that cannot be read, and close the connection after the answer:
    whatever the client sends next on it cannot be told from the rest of this body."""
    request.environ[CLOSE_CONNECTION] = True
    raise UnreadableBody(detail)


def questions_param() -> int | None:
    """?questions=true (the default: the best few), all, or false; the most to list."""
    if not request.environ.get("QUERY_STRING"):  # no query: the default, without parsing one
        return DEFAULT_QUESTIONS
    raw = request.args.get("questions")
    if raw is not None and raw.strip().lower() == "all":
        return None
    return DEFAULT_QUESTIONS if flag("questions", True) else 0


def messages_param() -> tuple:
    """?messages=true (the default: what to send now), all (the escalation letters too),
    or false."""
    if not request.environ.get("QUERY_STRING"):
        return DEFAULT_MESSAGES
    raw = request.args.get("messages")
    if raw is not None and raw.strip().lower() == "all":
        return ALL_MESSAGES
    return DEFAULT_MESSAGES if flag("messages", True) else ()


def validate_case(state: Loaded, data: Any) -> dict:
    try:
        case = fastcase.load(state.schema, data)  # marshmallow's result, faster when valid
    except ma.ValidationError as error:
        raise ValidationFailed(
            "The case does not match the schema; see `errors`.", flatten_messages(error.messages)
        ) from None
    if state.rulebook.implications:
        flat = flatten(case)
        errors = settle(state.rulebook, flat)[1] and contradictions(state.rulebook, flat)
        if errors:
            raise ValidationFailed("Facts of the case contradict each other; see `errors`.", errors)
    return case


def localized(response: Response, lang: str) -> Response:
    headers = response.headers
    headers["Content-Language"] = lang
    if "Vary" in headers:
        response.vary.add("Accept-Language")
    else:  # what vary.add writes on a fresh answer, without parsing the header first
        headers["Vary"] = "Accept-Language"
    return response


# --- rendering ---------------------------------------------------------------


def because(rule, facts: dict, lang: str) -> dict:
    """Why a rule gave a step: its sentence, and the known facts it read (for a list fact,
    only the items it looks for)."""
    cited = {}
    for name in rule.reads:
        if name in facts:
            value = facts[name]
            if name in rule.cites:
                value = [v for v in value if v in rule.cites[name]]
            cited[name] = value
    reason = rule.reason[lang]
    if "{" in reason:
        reason = PLACEHOLDER.sub(lambda m: str(facts[m.group(1)]), reason)
    return {"rule": rule.id, "reason": reason, "facts": cited}


def render_guidance(
    guidance: Guidance,
    lang: str,
    max_questions: int | None = DEFAULT_QUESTIONS,
    messages: tuple = DEFAULT_MESSAGES,
) -> dict:
    """The answer's body; `max_questions` None lists every question; `messages` names the
    phases whose messages it composes."""
    facts = guidance.facts
    source_labels = guidance.source_labels
    body: dict[str, Any] = {
        "case_id": guidance.case_id,
        "ruleset_version": guidance.ruleset_version,
        "lang": lang,
        "steps": [
            {
                "id": planned.step.id,
                "kind": planned.step.kind,
                "category": planned.step.category,
                "phase": planned.phase,
                "source": planned.step.source,
                "source_label": source_labels[planned.step.id][lang],
                "title": planned.step.texts[lang]["title"],
                "detail": planned.step.texts[lang]["detail"],
                "because": [because(rule, facts, lang) for rule in planned.because],
            }
            for planned in guidance.steps
        ],
        "rules_fired": [rule.id for rule in guidance.rules_fired],
    }
    if messages:
        body["messages"] = compose(
            guidance.templates, guidance.steps, guidance.context, lang, messages
        )
    if guidance.questions is not None:
        asked = guidance.questions if max_questions is None else guidance.questions[:max_questions]
        body["questions"] = [
            {
                "field": q.fact.name,
                "question": q.fact.question[lang],
                "options": [
                    {
                        "value": o.answer.value,
                        "label": o.answer.labels[lang],
                        "add": list(o.add),
                        "remove": list(o.remove),
                    }
                    for o in q.options
                ],
            }
            for q in asked
        ]
    return body


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
    case = validate_case(state, json_body())
    g.case_id = case.get("case_id")  # for the request's log line
    guidance = state.engine.evaluate(case, most != 0)
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
