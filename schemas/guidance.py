"""The answers' schemas. The API builds its answers directly (it is the hot path);
these describe them in openapi.yaml, and the tests validate every answer against that."""

import marshmallow as ma

LANG = ma.fields.String(required=True, validate=ma.validate.OneOf(("en", "ru")),
                        metadata={"description": "The language of the texts."})
VERSION = ma.fields.String(required=True, metadata={
    "description": "A content hash of the rule files and texts: changes whenever any of them does."})


class BecauseSchema(ma.Schema):
    rule = ma.fields.String(required=True, metadata={"description": "The rule that added the step."})
    facts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True),
                           required=True, metadata={
                               "description": "The facts the rule reads, with their values in "
                                              "this case (null: unknown)."})


class StepAdviceSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The stable step id."})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("do", "avoid")))
    category = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    detail = ma.fields.String(required=True)
    because = ma.fields.List(ma.fields.Nested(BecauseSchema), required=True)


class OptionSchema(ma.Schema):
    value = ma.fields.Raw(required=True, metadata={
        "description": "A value to put into the case as it is (for a number, one from the range)."})
    label = ma.fields.String(required=True)
    add = ma.fields.List(ma.fields.String(), required=True,
                         metadata={"description": "Step ids this answer would add."})
    remove = ma.fields.List(ma.fields.String(), required=True,
                            metadata={"description": "Step ids this answer would remove."})


class QuestionSchema(ma.Schema):
    field = ma.fields.String(required=True, metadata={"description": "The fact's path."})
    question = ma.fields.String(required=True)
    options = ma.fields.List(ma.fields.Nested(OptionSchema), required=True)


class GuidanceSchema(ma.Schema):
    case_id = ma.fields.String(required=True, allow_none=True)
    ruleset_version = VERSION
    lang = LANG
    steps = ma.fields.List(ma.fields.Nested(StepAdviceSchema), required=True,
                           metadata={"description": "Ordered: urgent communication first, "
                                                    "prevention for the future last."})
    rules_fired = ma.fields.List(ma.fields.String(), required=True)
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema), metadata={
        "description": "Follow-up questions on unknown facts, best first "
                       "(absent with ?questions=false)."})


class CatalogueStepSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("do", "avoid")))
    category = ma.fields.String(required=True)
    order = ma.fields.Integer(required=True)
    section = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    detail = ma.fields.String(required=True)


class StepCatalogueSchema(ma.Schema):
    ruleset_version = VERSION
    lang = LANG
    categories = ma.fields.List(ma.fields.String(), required=True)
    steps = ma.fields.List(ma.fields.Nested(CatalogueStepSchema), required=True)


class LoadedRuleSchema(ma.Schema):
    id = ma.fields.String(required=True)
    file = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    when = ma.fields.Dict(required=True, metadata={"description": "The conditions as written."})
    add = ma.fields.List(ma.fields.String(), required=True)
    remove = ma.fields.List(ma.fields.String(), required=True)
    reads = ma.fields.List(ma.fields.String(), required=True,
                           metadata={"description": "The facts the rule reads."})


class FactDescriptionSchema(ma.Schema):
    name = ma.fields.String(required=True)
    type = ma.fields.String(required=True,
                            validate=ma.validate.OneOf(("boolean", "enum", "integer", "list")))
    required = ma.fields.Boolean(required=True)
    description = ma.fields.String(required=True)
    values = ma.fields.List(ma.fields.String())
    min = ma.fields.Integer()
    max = ma.fields.Integer()
    question = ma.fields.String()
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    read_by = ma.fields.List(ma.fields.String(), required=True,
                             metadata={"description": "The rules that read this fact."})


class RulesSchema(ma.Schema):
    ruleset_version = VERSION
    lang = LANG
    rules = ma.fields.List(ma.fields.Nested(LoadedRuleSchema), required=True)
    facts = ma.fields.List(ma.fields.Nested(FactDescriptionSchema), required=True)


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True)
    ruleset_version = VERSION
    rules = ma.fields.Integer(required=True)
    steps = ma.fields.Integer(required=True)
    reload_error = ma.fields.String(metadata={
        "description": "Why the last rule reload failed; the rules above still serve."})
