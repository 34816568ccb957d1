"""The answers' schemas. The API builds its answers directly (it is the hot path);
these describe them in openapi.yaml, and the tests validate every answer against that."""

import marshmallow as ma

from schemas.common import LANGS
from schemas.rules import PHASES, SOURCES

LANG = ma.fields.String(
    required=True,
    validate=ma.validate.OneOf(LANGS),
    metadata={"description": "The language of the texts."},
)
VERSION = ma.fields.String(
    required=True,
    metadata={
        "description": "A content hash of the rule files and texts: "
        "changes whenever any of them does."
    },
)


PHASE = ma.fields.String(
    required=True,
    validate=ma.validate.OneOf(PHASES),
    metadata={
        "description": "When the step applies: `now`; `fallback`, if that does not work "
        "(escalation, declining as the last resort); `next_time`, a lesson for "
        "future clients. Steps are ordered by phase first."
    },
)


SOURCE = ma.fields.String(
    required=True,
    validate=ma.validate.OneOf(SOURCES),
    metadata={
        "description": "Where the advice comes from: `article` (the article the guidance is built "
        "on, its `section`) or `practice` (common practice beyond the article)."
    },
)
SOURCE_LABEL = ma.fields.String(
    required=True, metadata={"description": "The same, for people, in the answer's language."}
)


class BecauseSchema(ma.Schema):
    rule = ma.fields.String(
        required=True,
        metadata={
            "description": "The id of the rule that added the step (stable, for integrators)."
        },
    )
    reason = ma.fields.String(
        required=True, metadata={"description": "Why, as a sentence in the answer's language."}
    )
    facts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        required=True,
        metadata={
            "description": "The known facts the rule's condition reads, "
            "with their values in this case (implied ones "
            "included; for a list fact, only the items the "
            "rule looks for). Unknown facts are left out."
        },
    )


class StepAdviceSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The stable step id."})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("do", "avoid")))
    category = ma.fields.String(required=True)
    phase = PHASE
    source = SOURCE
    source_label = SOURCE_LABEL
    title = ma.fields.String(required=True)
    detail = ma.fields.String(required=True)
    because = ma.fields.List(
        ma.fields.Nested(BecauseSchema),
        required=True,
        metadata={"description": "The rules that gave the step, each once."},
    )


class OptionSchema(ma.Schema):
    value = ma.fields.Raw(
        required=True,
        metadata={
            "description": "A value to put into the case as it is "
            "(for a number, one from the range)."
        },
    )
    label = ma.fields.String(required=True)
    add = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "Step ids this answer would add."},
    )
    remove = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "Step ids this answer would remove."},
    )


class QuestionSchema(ma.Schema):
    field = ma.fields.String(required=True, metadata={"description": "The fact's path."})
    question = ma.fields.String(required=True)
    options = ma.fields.List(ma.fields.Nested(OptionSchema), required=True)


class MessageSchema(ma.Schema):
    id = ma.fields.String(
        required=True,
        metadata={
            "description": "The kind of letter (client-now, client-fallback, platform-now, "
            "platform-fallback; a letter too long to send goes on as -2, -3)."
        },
    )
    purpose = ma.fields.String(required=True)
    to = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("client", "platform")),
        metadata={
            "description": "The client, or the platform's (or the payment provider's) support."
        },
    )
    phase = PHASE
    lang = LANG
    subject = ma.fields.String(required=True)
    text = ma.fields.String(
        required=True,
        metadata={
            "description": "Plain text, ready to send; the context's values are inserted as text."
        },
    )
    covers = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The steps whose action it carries out, in plan order."},
    )


class GuidanceSchema(ma.Schema):
    case_id = ma.fields.String(required=True, allow_none=True)
    ruleset_version = VERSION
    lang = LANG
    steps = ma.fields.List(
        ma.fields.Nested(StepAdviceSchema),
        required=True,
        metadata={
            "description": "One plan, in the order one acts: by phase "
            "(now, fallback, next_time), then urgent "
            "communication first within a phase."
        },
    )
    rules_fired = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The rules that fired, each once, in rulebook order."},
    )
    messages = ma.fields.List(
        ma.fields.Nested(MessageSchema),
        metadata={
            "description": "Ready-to-send messages composed from the plan's steps: those of the "
            "`now` phase, with ?messages=all the escalation letters too (absent with "
            "?messages=false). The case's `context` fills names, sums and dates."
        },
    )
    questions = ma.fields.List(
        ma.fields.Nested(QuestionSchema),
        metadata={
            "description": "Follow-up questions on unknown facts, best first: at most 5, or all "
            "with ?questions=all (absent with ?questions=false). Facts implied by "
            "the known ones are never asked."
        },
    )


class CatalogueStepSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("do", "avoid")))
    category = ma.fields.String(required=True)
    order = ma.fields.Integer(required=True)
    section = ma.fields.String(required=True)
    source = SOURCE
    source_label = SOURCE_LABEL
    phase = PHASE
    title = ma.fields.String(required=True)
    detail = ma.fields.String(required=True)


class StepCatalogueSchema(ma.Schema):
    ruleset_version = VERSION
    lang = LANG
    categories = ma.fields.List(ma.fields.String(), required=True)
    phases = ma.fields.List(ma.fields.String(), required=True)
    steps = ma.fields.List(ma.fields.Nested(CatalogueStepSchema), required=True)


class LoadedRuleSchema(ma.Schema):
    id = ma.fields.String(required=True)
    file = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    when = ma.fields.Dict(required=True, metadata={"description": "The conditions as written."})
    reason = ma.fields.String(
        required=True,
        metadata={
            "description": "The sentence answers show for this rule (placeholders unfilled)."
        },
    )
    add = ma.fields.List(ma.fields.String(), required=True)
    remove = ma.fields.List(ma.fields.String(), required=True)
    reads = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "The facts the rule reads."}
    )


class FactDescriptionSchema(ma.Schema):
    name = ma.fields.String(required=True)
    type = ma.fields.String(
        required=True, validate=ma.validate.OneOf(("boolean", "enum", "integer", "list"))
    )
    required = ma.fields.Boolean(required=True)
    description = ma.fields.String(required=True)
    values = ma.fields.List(ma.fields.String())
    min = ma.fields.Integer()
    max = ma.fields.Integer()
    question = ma.fields.String()
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    read_by = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The rules that read this fact."},
    )


class ConflictDescriptionSchema(ma.Schema):
    steps = ma.fields.List(ma.fields.String(), required=True)
    why = ma.fields.String(required=True)
    by_supersession = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "The first step supersedes the second: given, it leaves the other out."
        },
    )


class PhaseShiftDescriptionSchema(ma.Schema):
    steps = ma.fields.List(ma.fields.String(), required=True)
    phase = PHASE
    when_given = ma.fields.List(ma.fields.String(), required=True)


class PlanDescriptionSchema(ma.Schema):
    conflicts = ma.fields.List(
        ma.fields.Nested(ConflictDescriptionSchema),
        required=True,
        metadata={
            "description": "Pairs never given together (proved for every case when the rules load)."
        },
    )
    phase_shifts = ma.fields.List(ma.fields.Nested(PhaseShiftDescriptionSchema), required=True)


class ImplicationDescriptionSchema(ma.Schema):
    when = ma.fields.Dict(required=True)
    then = ma.fields.Dict(required=True)
    why = ma.fields.String(required=True)


class RulesSchema(ma.Schema):
    ruleset_version = VERSION
    lang = LANG
    rules = ma.fields.List(ma.fields.Nested(LoadedRuleSchema), required=True)
    facts = ma.fields.List(ma.fields.Nested(FactDescriptionSchema), required=True)
    plan = ma.fields.Nested(PlanDescriptionSchema, required=True)
    implications = ma.fields.List(
        ma.fields.Nested(ImplicationDescriptionSchema),
        required=True,
        metadata={"description": "What known facts settle about others."},
    )


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True)
    ruleset_version = VERSION
    rules = ma.fields.Integer(required=True)
    steps = ma.fields.Integer(required=True)
    reload_error = ma.fields.String(
        metadata={"description": "Why the last rule reload failed; the rules above still serve."}
    )
