"""The error body: RFC 9457 problem details."""

import marshmallow as ma


class ProblemSchema(ma.Schema):
    type = ma.fields.String(
        required=True,
        metadata={
            "description": "A URI naming the kind of problem; about:blank for plain HTTP errors."
        },
    )
    title = ma.fields.String(required=True, metadata={"description": "A short summary."})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong here."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "For invalid input: the problems keyed by field path "
            "(`client.silent_days`, `situations.0`)."
        },
    )
    request_id = ma.fields.String(metadata={"description": "The request's X-Request-ID."})
