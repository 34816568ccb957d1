"""The Flask-free core every edge shares: loading the rules, validating a case, rendering
its guidance.

The HTTP blueprints (service/api.py, service/batch.py), the command line
(service/cli.py) and the batch runs (service/batch_eval.py) all go through these
functions, so every way in gives the same answer for the same case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import marshmallow as ma

from schemas import fastcase
from schemas.case import case_schema
from service.config import PREFIX
from service.engine import Engine, Guidance, flatten
from service.messages import compose
from service.model import Rule, Rulebook
from service.plan import contradictions, settle
from service.problems import ValidationFailed, flatten_messages
from service.rulebook import PLACEHOLDER, load_rulebook

RULES_DIR_VARIABLE = PREFIX + "RULES_DIR"  # the setting the app reads too (service/config.py)
PROBE_CASE = {"case_id": "readiness-probe", "situations": ["conflict"]}
DEFAULT_QUESTIONS = 5  # the questions an answer lists unless ?questions=all
DEFAULT_MESSAGES: tuple[str, ...] = ("now",)  # the phases whose messages an answer holds
ALL_MESSAGES: tuple[str, ...] = ("now", "fallback")


@dataclass(frozen=True)
class Loaded:
    """What a worker serves from: the rulebook, its compiled engine and its case schema."""

    rulebook: Rulebook
    engine: Engine
    schema: ma.Schema
    reload_error: str | None = None  # why the last reload failed (these rules kept serving)

    @property
    def version(self) -> str:
        return self.rulebook.version


def load(rules_dir: str | Path | None) -> Loaded:
    """Load, validate and compile a rules folder, and prove it with the probe case."""
    rulebook = load_rulebook(rules_dir or None)
    engine = Engine(rulebook)
    engine.evaluate(PROBE_CASE)
    return Loaded(rulebook, engine, case_schema(rulebook.facts.values())())


def rules_folder(given: str | None) -> str | None:
    """The rules folder a command uses: the one given, else DISPUTE_GUIDE_RULES_DIR, else
    None (the bundled rules)."""
    return given or os.environ.get(RULES_DIR_VARIABLE) or None


def load_rules(given: str | None) -> Loaded:
    """The rules of a command (see `rules_folder`), loaded; RulesError when unusable."""
    return load(rules_folder(given))


def validate_case(state: Loaded, data: Any) -> dict:
    """The case as the schema loads it; ValidationFailed says every field that is wrong."""
    return validated(state, data)[0]


def validated(state: Loaded, data: Any) -> tuple[dict, dict | None]:
    """`validate_case`, and the case's known facts with what they imply when that was
    worked out to check them (for `Engine.evaluate`, which would work it out again)."""
    try:
        case = fastcase.load(state.schema, data)  # marshmallow's result, faster when valid
    except ma.ValidationError as error:
        raise ValidationFailed(
            "The case does not match the schema; see `errors`.", flatten_messages(error.messages)
        ) from None
    if not state.rulebook.implications:
        return case, None
    flat = flatten(case)
    facts, contradicted = settle(state.rulebook, flat)
    if contradicted:
        errors = contradictions(state.rulebook, flat)
        if errors:
            raise ValidationFailed("Facts of the case contradict each other; see `errors`.", errors)
    return case, facts


def because(rule: Rule, facts: dict, lang: str) -> dict:
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


def _step(rendered: dict, planned: Any, lang: str, source_labels: dict) -> dict:
    """A step of the answer without its `because`: the same for every answer that gives the
    step in this phase, so built once per rulebook, language and phase (and copied)."""
    key = (planned.step.id, planned.phase, lang)
    step_dict = rendered.get(key)
    if step_dict is None:
        step = planned.step
        texts = step.texts[lang]
        step_dict = rendered[key] = {
            "id": step.id,
            "kind": step.kind,
            "category": step.category,
            "phase": planned.phase,
            "source": step.source,
            "source_label": source_labels[step.id][lang],
            "title": texts["title"],
            "detail": texts["detail"],
        }
    return step_dict


def _because(rendered: dict, rule: Rule, facts: dict, lang: str) -> dict:
    """`because`, with what depends on the rule alone found once per rulebook and language:
    the sentence when it has no placeholder, and the facts it reads with what it cites."""
    key = (rule.id, lang)
    static = rendered.get(key)
    if static is None:
        reason = rule.reason[lang]
        static = rendered[key] = (
            None if "{" in reason else reason,
            tuple((name, rule.cites.get(name)) for name in rule.reads),
        )
    reason, reads = static
    cited = {}
    for name, cites in reads:
        if name in facts:
            value = facts[name]
            if cites is not None:
                value = [v for v in value if v in cites]
            cited[name] = value
    if reason is None:
        reason = PLACEHOLDER.sub(lambda m: str(facts[m.group(1)]), rule.reason[lang])
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
    rendered = guidance.rendered if guidance.rendered is not None else {}
    steps = []
    for planned in guidance.steps:
        step = dict(_step(rendered, planned, lang, source_labels))
        step["because"] = [_because(rendered, rule, facts, lang) for rule in planned.because]
        steps.append(step)
    body: dict[str, Any] = {
        "case_id": guidance.case_id,
        "ruleset_version": guidance.ruleset_version,
        "lang": lang,
        "steps": steps,
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
