"""Schemas of the rules folder: facts.yaml, steps.yaml, plan.yaml and the rule files
(messages.yaml: schemas/messages.py).

The loader (service/rulebook.py) feeds each YAML document through these schemas;
any error stops the service from starting, naming the file, the rule and the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma

from schemas.common import LANGS, StrictInteger, in_each_language

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
FACT_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$"
KINDS = ("do", "avoid")
# When a step applies: now; if that does not work (escalation, declining as the fallback);
# next time (lessons for future clients). Answers are ordered by phase first.
PHASES = ("now", "fallback", "next_time")
SECTIONS = ("conflict", "silent", "nonpay", "noinfo", "unhappy", "rules", "practice")
SOURCES = ("article", "practice")  # the article (one of its sections), or common practice
FACT_TYPES = ("boolean", "enum", "integer", "list")
BOOLEAN_LABELS = ("yes", "no")


def _localized(max_length: int) -> type[ma.Schema]:
    fields: dict[str, ma.fields.Field] = {
        lang: ma.fields.String(required=True, validate=ma.validate.Length(1, max_length))
        for lang in LANGS
    }
    return ma.Schema.from_dict(fields, name=f"Localized{max_length}")


Localized = _localized(200)
Sentence = _localized(300)


class StepTextSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(1, 120))
    detail = ma.fields.String(required=True, validate=ma.validate.Length(1, 600))


class _Step(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(KEBAB))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    category = ma.fields.String(required=True)
    order = StrictInteger(required=True, validate=ma.validate.Range(0, 65535))
    section = ma.fields.String(required=True, validate=ma.validate.OneOf(SECTIONS))
    source = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCES))
    phase = ma.fields.String(required=True, validate=ma.validate.OneOf(PHASES))


StepSchema = in_each_language(
    _Step, lambda: ma.fields.Nested(StepTextSchema, required=True), "StepSchema"
)


class SourceLabelsSchema(ma.Schema):
    article = ma.fields.Nested(Localized, required=True)  # with {section}
    practice = ma.fields.Nested(Localized, required=True)


class StepCatalogueSchema(ma.Schema):
    categories = ma.fields.List(ma.fields.String(validate=ma.validate.Regexp(KEBAB)), required=True)
    sections = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(SECTIONS)),
        values=ma.fields.Nested(Localized),
        required=True,
    )
    source_labels = ma.fields.Nested(SourceLabelsSchema, required=True)
    steps = ma.fields.List(ma.fields.Nested(StepSchema), required=True)

    @ma.validates_schema
    def _consistent(self, data, **kwargs):
        seen = set()
        for i, step in enumerate(data["steps"]):
            if step["id"] in seen:
                raise ma.ValidationError(
                    {"steps": {i: {"id": [f"duplicate step id {step['id']!r}"]}}}
                )
            seen.add(step["id"])
            if step["section"] not in data["sections"]:
                raise ma.ValidationError(
                    {
                        "steps": {
                            i: {"section": [f"{step['section']!r} has no title under `sections`"]}
                        }
                    }
                )
            if step["category"] not in data["categories"]:
                raise ma.ValidationError(
                    {
                        "steps": {
                            i: {
                                "category": [
                                    f"{step['category']!r} is not one of the categories {data['categories']}"  # noqa: E501
                                ]
                            }
                        }
                    }
                )


class FactSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Regexp(FACT_NAME))
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(FACT_TYPES))
    values = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 64)))
    min = StrictInteger()
    max = StrictInteger()
    required = ma.fields.Boolean(load_default=False)
    priority = StrictInteger(
        load_default=0,
        validate=ma.validate.Range(0, 100),
        metadata={
            "description": "Questions on facts of higher priority come first (then by what the "
            "answers change)."
        },
    )
    description = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))
    question = ma.fields.Nested(Localized)
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(Localized))

    @ma.validates_schema
    def _consistent(self, data, **kwargs):
        kind = data["type"]
        if kind in ("enum", "list"):
            values = data.get("values") or []
            if not values or len(set(values)) != len(values):
                raise ma.ValidationError("needs a non-empty list of distinct values", "values")
            allowed = set(values)
        elif "values" in data:
            raise ma.ValidationError("only enum and list facts have values", "values")
        else:
            allowed = set(BOOLEAN_LABELS) if kind == "boolean" else set()
        if kind == "integer":
            if "min" not in data or "max" not in data or data["min"] > data["max"]:
                raise ma.ValidationError("an integer fact needs min <= max", "max")
        extra = set(data.get("labels") or {}) - allowed
        if extra:
            raise ma.ValidationError(f"labels for unknown values: {sorted(extra)}", "labels")
        if not data.get("required") and "question" not in data:
            raise ma.ValidationError(
                "an optional fact needs a question to ask when it is unknown", "question"
            )
        if kind in ("enum", "boolean") and set(data.get("labels") or {}) != allowed:
            raise ma.ValidationError(f"needs a label for each answer: {sorted(allowed)}", "labels")


class RangeLabelsSchema(ma.Schema):
    below = ma.fields.Nested(Localized, required=True)
    between = ma.fields.Nested(Localized, required=True)
    # `from` is a Python keyword: the YAML key is mapped with data_key.
    from_ = ma.fields.Nested(Localized, required=True, data_key="from")


class ImplicationSchema(ma.Schema):
    when = ma.fields.Raw(required=True)  # parsed by the loader, which knows the facts
    then = ma.fields.Dict(
        keys=ma.fields.String(), required=True, validate=ma.validate.Length(min=1)
    )
    why = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))


class FactsFileSchema(ma.Schema):
    facts = ma.fields.List(
        ma.fields.Nested(FactSchema), required=True, validate=ma.validate.Length(min=1)
    )
    range_labels = ma.fields.Nested(RangeLabelsSchema, required=True)
    implications = ma.fields.List(ma.fields.Nested(ImplicationSchema), load_default=list)

    @ma.validates_schema
    def _unique(self, data, **kwargs):
        names = [f["name"] for f in data["facts"]]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ma.ValidationError(f"duplicate facts: {dupes}", "facts")
        parents = {n.split(".")[0] for n in names if "." in n}
        clash = sorted(parents & set(names))
        if clash:
            raise ma.ValidationError(f"{clash} are both a fact and a group of facts", "facts")
        reserved = sorted((parents | set(names)) & {"case_id", "context"})
        if reserved:
            raise ma.ValidationError(f"{reserved} are fields of the case, not facts", "facts")


class RuleSchema(ma.Schema):
    id = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(
            KEBAB, error="rule ids are kebab-case: lowercase letters, digits and single dashes"
        ),
    )
    description = ma.fields.String(required=True, validate=ma.validate.Length(1, 400))
    when = ma.fields.Raw(required=True)  # parsed by RuleFileSchema, which knows the facts
    reason = ma.fields.Nested(
        Sentence,
        required=True,
        metadata={
            "description": "Why the rule gives its steps, as a sentence for people; may name "
            "integer facts the rule needs known, as {client.silent_days}."
        },
    )
    add = ma.fields.List(ma.fields.String(), load_default=list)
    remove = ma.fields.List(ma.fields.String(), load_default=list)
    phase = ma.fields.String(
        validate=ma.validate.OneOf(PHASES),
        load_default=None,
        metadata={
            "description": "The phase of the steps this rule adds, instead of the steps' own "
            "(e.g. next_time for a lesson drawn from a case that is past help)."
        },
    )

    @ma.validates_schema
    def _adds_or_removes(self, data, **kwargs):
        if not data["add"] and not data["remove"]:
            raise ma.ValidationError("a rule must add or remove at least one step", "add")


class RuleTestSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    case = ma.fields.Dict(required=True)
    expect = ma.fields.List(ma.fields.String(), load_default=list)
    forbid = ma.fields.List(ma.fields.String(), load_default=list)
    phases = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=ma.validate.OneOf(PHASES)),
        load_default=dict,
    )
    messages = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        load_default=None,
        metadata={
            "description": "The messages the answer holds (all phases), "
            "each with the steps it covers, in order."
        },
    )


class RuleFileSchema(ma.Schema):
    """One rule file. Needs the facts (name -> FactType) and the step ids it may name."""

    section = ma.fields.String(required=True, validate=ma.validate.OneOf(SECTIONS))
    rules = ma.fields.List(ma.fields.Nested(RuleSchema), required=True)
    tests = ma.fields.List(ma.fields.Nested(RuleTestSchema), load_default=list)

    def __init__(
        self,
        *,
        facts: Mapping[str, Any],
        steps: set[str],
        parse: Callable[[Any, Mapping[str, Any]], Any],
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.facts = facts
        self.steps = steps
        # The condition parser (service.conditions.parse), given by the loader: schemas
        # describe documents and import nothing of the service.
        self.parse = parse

    @ma.validates_schema
    def _known_names(self, data, **kwargs):
        errors: dict = {}
        seen: set[str] = set()
        for i, rule in enumerate(data["rules"]):
            problems = errors.setdefault("rules", {}).setdefault(i, {})
            if rule["id"] in seen:
                problems["id"] = [f"duplicate rule id {rule['id']!r}"]
            seen.add(rule["id"])
            try:
                rule["when"] = self.parse(rule["when"], self.facts)
            except ValueError as error:  # the parser's ConditionError: where and what
                where = getattr(error, "path", "") or "when"
                problems[where] = [getattr(error, "message", str(error))]
            for key in ("add", "remove"):
                unknown = [s for s in rule[key] if s not in self.steps]
                if unknown:
                    problems[key] = [f"unknown step ids {unknown} (steps are in steps.yaml)"]
        for i, test in enumerate(data["tests"]):
            for key in ("expect", "forbid", "phases"):
                unknown = [s for s in test[key] if s not in self.steps]
                if unknown:
                    errors.setdefault("tests", {}).setdefault(i, {})[key] = [
                        f"unknown step ids {unknown}"
                    ]
        errors["rules"] = {i: p for i, p in errors.get("rules", {}).items() if p}
        errors = {k: v for k, v in errors.items() if v}
        if errors:
            raise ma.ValidationError(errors)


class ConflictSchema(ma.Schema):
    steps = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(equal=2))
    why = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))


class SupersedesSchema(ma.Schema):
    step = ma.fields.String(required=True)
    over = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1))
    why = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))


class PhaseShiftSchema(ma.Schema):
    steps = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1))
    phase = ma.fields.String(required=True, validate=ma.validate.OneOf(PHASES))
    when_given = ma.fields.List(
        ma.fields.String(), required=True, validate=ma.validate.Length(min=1)
    )
    why = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))


class PlanFileSchema(ma.Schema):
    """plan.yaml: how the steps of one answer make one plan.

    `conflicts`: pairs of steps that must never be given together (proved at load);
    `supersedes`: when `step` is given, the steps `over` it are left out;
    `phases`: when any of `when_given` is given, `steps` move to `phase`.
    """

    conflicts = ma.fields.List(ma.fields.Nested(ConflictSchema), load_default=list)
    supersedes = ma.fields.List(ma.fields.Nested(SupersedesSchema), load_default=list)
    phases = ma.fields.List(ma.fields.Nested(PhaseShiftSchema), load_default=list)

    def __init__(self, *, steps: set[str], **kwargs):
        super().__init__(**kwargs)
        self.steps = steps

    @ma.validates_schema
    def _known_steps(self, data, **kwargs):
        errors: dict = {}
        for key, fields in (
            ("conflicts", ("steps",)),
            ("supersedes", ("step", "over")),
            ("phases", ("steps", "when_given")),
        ):
            for i, entry in enumerate(data[key]):
                for name in fields:
                    value = entry[name]
                    unknown = [
                        s
                        for s in ([value] if isinstance(value, str) else value)
                        if s not in self.steps
                    ]
                    if unknown:
                        errors.setdefault(key, {}).setdefault(i, {})[name] = [
                            f"unknown step ids {unknown} (steps are in steps.yaml)"
                        ]
        for i, entry in enumerate(data["conflicts"]):
            if len(set(entry["steps"])) != len(entry["steps"]):
                errors.setdefault("conflicts", {}).setdefault(i, {})["steps"] = [
                    "a step cannot conflict with itself"
                ]
        for i, entry in enumerate(data["supersedes"]):
            if entry["step"] in entry["over"]:
                errors.setdefault("supersedes", {}).setdefault(i, {})["over"] = [
                    "a step cannot supersede itself"
                ]
        if errors:
            raise ma.ValidationError(errors)
