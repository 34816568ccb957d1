"""The schema of messages.yaml: ready-to-send messages composed from the plan's steps.

The loader (service/rulebook.py) feeds the file through it; service/messages.py composes.
"""

from __future__ import annotations

import marshmallow as ma

from schemas.common import StrictInteger, in_each_language
from schemas.rules import KEBAB, PHASES, Localized

RECIPIENTS = ("client", "platform")


def variants() -> ma.fields.Field:
    """A text's variants in one language."""
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 700)),
        required=True,
        validate=ma.validate.Length(min=1),
    )


# Texts in each language: the first whose placeholders the context fills is used.
LocalizedVariants = in_each_language(ma.Schema, variants, "LocalizedVariants")


class MessageKindSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(KEBAB))
    to = ma.fields.String(required=True, validate=ma.validate.OneOf(RECIPIENTS))
    phase = ma.fields.String(required=True, validate=ma.validate.OneOf(PHASES))
    purpose = ma.fields.Nested(Localized, required=True)
    subject = ma.fields.Nested(LocalizedVariants, required=True)
    opening = ma.fields.Nested(LocalizedVariants, required=True)
    closing = ma.fields.Nested(LocalizedVariants, required=True)


class _Block(ma.Schema):
    step = ma.fields.String(required=True)
    to = ma.fields.String(required=True, validate=ma.validate.OneOf(RECIPIENTS))
    demand = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "The block states a demand or a consequence (only a contract backs it)."
        },
    )


BlockSchema = in_each_language(_Block, variants, "BlockSchema")


class MessagesFileSchema(ma.Schema):
    """messages.yaml: ready-to-send messages composed from the plan's steps."""

    max_length = StrictInteger(required=True, validate=ma.validate.Range(200, 5000))
    messages = ma.fields.List(ma.fields.Nested(MessageKindSchema), required=True)
    blocks = ma.fields.List(ma.fields.Nested(BlockSchema), required=True)
    not_messages = ma.fields.List(
        ma.fields.String(),
        load_default=list,
        metadata={
            "description": "Steps whose action is no message to anyone (attitudes, lessons, "
            "actions of one's own)."
        },
    )
