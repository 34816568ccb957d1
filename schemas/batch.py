"""The batch endpoint's request and answer: POST /v1/guidance/batch."""

from __future__ import annotations

import marshmallow as ma

from schemas.guidance import GuidanceSchema
from schemas.problem import ProblemSchema


class BatchRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    cases = ma.fields.List(
        ma.fields.Raw(allow_none=True, metadata={"allOf": [{"$ref": "#/components/schemas/Case"}]}),
        required=True,
        metadata={
            "description": "The cases, each as POST /v1/guidance takes it. An invalid "
            "case gives a problem result at its index, not a failed batch."
        },
    )


class BatchResultSchema(ma.Schema):
    index = ma.fields.Integer(
        metadata={"description": "JSON batches: the case's position in `cases`, from 0."}
    )
    line = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "NDJSON: the case's line number, from 1 (null when the body broke off)."
        },
    )
    case_id = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The case's case_id, echoed (null when absent or itself invalid)."
        },
    )
    status = ma.fields.Integer(
        required=True,
        metadata={
            "description": "What POST /v1/guidance would answer for this case: 200, 400 (not "
            "JSON), 413 (line too long), 422 (invalid case), 500."
        },
    )
    guidance = ma.fields.Nested(
        GuidanceSchema,
        metadata={"description": "When status is 200: exactly what POST /v1/guidance answers."},
    )
    problem = ma.fields.Nested(
        ProblemSchema,
        metadata={"description": "Otherwise: exactly the error body POST /v1/guidance answers."},
    )


class SituationTallySchema(ma.Schema):
    cases = ma.fields.Integer(
        required=True, metadata={"description": "Evaluated cases with this situation."}
    )
    steps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Step id: how many of those cases it was "
            "recommended in; most frequent first."
        },
    )


class BatchSummarySchema(ma.Schema):
    cases = ma.fields.Integer(required=True, metadata={"description": "Cases received."})
    evaluated = ma.fields.Integer(required=True, metadata={"description": "Cases answered."})
    errors = ma.fields.Integer(
        required=True, metadata={"description": "Cases answered with a problem."}
    )
    steps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Step id: how many cases it was recommended in; most frequent first."
        },
    )
    situations = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SituationTallySchema),
        required=True,
        metadata={
            "description": "Per situation (a case counts for each of its situations), "
            "in catalogue order."
        },
    )


class BatchResponseSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(BatchResultSchema),
        required=True,
        metadata={"description": "One per case, in the order of `cases`."},
    )
    summary = ma.fields.Nested(BatchSummarySchema, required=True)


class BatchSummaryLineSchema(ma.Schema):
    summary = ma.fields.Nested(
        BatchSummarySchema,
        required=True,
        metadata={"description": "The last line of a complete NDJSON answer."},
    )


# The component schemas of openapi.yaml; nested ones first, so that the later ones refer
# to them by these names.
BATCH_SCHEMAS: dict[str, type[ma.Schema]] = {
    "BatchResult": BatchResultSchema,
    "BatchSituationTally": SituationTallySchema,
    "BatchSummary": BatchSummarySchema,
    "BatchRequest": BatchRequestSchema,
    "BatchResponse": BatchResponseSchema,
    "BatchSummaryLine": BatchSummaryLineSchema,
}
