"""The case schema, built from the facts of the loaded rules (rules/facts.yaml).

Types are exact: JSON `true`/`false` only for booleans (not 1 or "true"), integers
only for numbers (not 5.0, "5" or true), enumerations checked, integers bounded,
strings at most 128 characters, unknown fields rejected with their path (and the
closest known name, when one is close: a typo). `null` is accepted for any optional
fact and means the same as leaving it out: unknown.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow as ma

from schemas.common import LANGS, StrictInteger

MAX_STRING = 128
NOT_AN_OBJECT = "Expected a JSON object."
UNKNOWN_FIELD = "Unknown field."
DID_YOU_MEAN = "Unknown field; did you mean `{name}`?"
MAX_SUGGESTIONS = 32  # per object: 10,000 made-up fields need no 10,000 searches


class StrictBoolean(ma.fields.Field):
    """JSON true or false, nothing else."""

    default_error_messages = {"invalid": "Not a valid boolean: expected true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


class StrictString(ma.fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not str:
            raise self.make_error("invalid")
        return value


class UniqueList(ma.fields.List):
    default_error_messages = {"duplicate": "Duplicate values: {values}."}

    def _deserialize(self, value, attr, data, **kwargs):
        items = super()._deserialize(value, attr, data, **kwargs)
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            raise self.make_error("duplicate", values=", ".join(dupes))
        return items


def _field(fact) -> ma.fields.Field:
    meta = {"description": fact.description}
    common = {"required": fact.required, "allow_none": not fact.required, "metadata": meta}
    if fact.type == "boolean":
        return StrictBoolean(**common)
    if fact.type == "integer":
        return StrictInteger(validate=ma.validate.Range(fact.min, fact.max), **common)
    if fact.type == "enum":
        return StrictString(validate=ma.validate.OneOf(fact.values), **common)
    return UniqueList(
        StrictString(validate=ma.validate.OneOf(fact.values)),
        validate=ma.validate.Length(min=1),
        **common,
    )


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    error_messages = {"type": NOT_AN_OBJECT, "unknown": UNKNOWN_FIELD}

    def handle_error(self, error: ma.ValidationError, data, **kwargs) -> None:
        """Name the closest known field of an unknown one (`contarct`: did you mean `contract`?)."""
        if not isinstance(data, Mapping) or not isinstance(error.messages, dict):
            return
        known = [field.data_key or name for name, field in self.load_fields.items()]
        suggested = 0
        for key, found in error.messages.items():
            if found != [UNKNOWN_FIELD] or key in known or not isinstance(key, str):
                continue
            close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.75)
            if close:
                error.messages[key] = [DID_YOU_MEAN.format(name=close[0])]
            suggested += 1
            if suggested == MAX_SUGGESTIONS:
                break


MAX_NAME = 80
_PRINTABLE = ma.validate.Regexp(
    r"^[^\x00-\x1f\x7f]*$", error="Control characters are not allowed here."
)
CONTEXT_FIELDS = (
    "client_name",
    "freelancer_name",
    "project",
    "amount",
    "due_date",
    "reply_by",
    "new_date",
    "platform_name",
)  # the placeholders a message template may use


class Amount(ma.fields.Field):
    """A sum of money: a JSON number, finite, from 0 to 10^12, at most two decimals."""

    default_error_messages = {
        "invalid": "Not a valid amount: expected a number such as 1500 "
        "or 1499.99, from 0 to 1000000000000."
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) not in (int, float) or not 0 <= value <= 10**12 or round(value, 2) != value:
            raise self.make_error("invalid")
        return value


class ContextSchema(_Strict):
    """What fills a message's placeholders; it never changes which steps are given."""

    client_name = StrictString(
        allow_none=True,
        validate=[ma.validate.Length(1, MAX_NAME), _PRINTABLE],
        metadata={"description": "How to address the client."},
    )
    freelancer_name = StrictString(
        allow_none=True,
        validate=[ma.validate.Length(1, MAX_NAME), _PRINTABLE],
        metadata={"description": "The signature."},
    )
    project = StrictString(
        allow_none=True,
        validate=[ma.validate.Length(1, 120), _PRINTABLE],
        metadata={"description": "The project's name."},
    )
    amount = Amount(allow_none=True, metadata={"description": "The sum at stake."})
    currency = StrictString(
        allow_none=True,
        validate=ma.validate.Regexp(
            r"^[A-Z]{3}$", error="Not a currency code: expected three capital letters such as EUR."
        ),
        metadata={"description": "ISO 4217 code of the amount's currency."},
    )
    due_date = ma.fields.Date(
        allow_none=True,
        metadata={"description": "When the payment or the work was due (ISO date)."},
    )
    reply_by = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "The date a message asks the client to answer or pay by (ISO date)."
        },
    )
    new_date = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "The new deadline a message proposes for late work (ISO date), "
            "later than due_date when both are given."
        },
    )
    platform_name = StrictString(
        allow_none=True,
        validate=[ma.validate.Length(1, MAX_NAME), _PRINTABLE],
        metadata={"description": "The platform the work runs on."},
    )
    language = StrictString(
        allow_none=True,
        validate=ma.validate.OneOf(LANGS),
        metadata={
            "description": "The language of the messages, when the client speaks another than the "
            "answer's (default: the answer's)."
        },
    )

    @ma.validates_schema
    def _currency_with_amount(self, data, **kwargs):
        if data.get("currency") is not None and data.get("amount") is None:
            raise ma.ValidationError("A currency needs an amount.", "currency")

    @ma.validates_schema
    def _new_date_after_due_date(self, data, **kwargs):
        new, due = data.get("new_date"), data.get("due_date")
        if new is not None and due is not None and new <= due:
            raise ma.ValidationError(
                f"The new date must be later than due_date ({due.isoformat()}).", "new_date"
            )


def case_schema(facts: Iterable, name: str = "Case") -> type[ma.Schema]:
    """A schema class for a case over `facts` (service.rulebook.Fact)."""
    top: dict[str, ma.fields.Field] = {
        "case_id": StrictString(
            allow_none=True,
            validate=ma.validate.Length(max=MAX_STRING),
            metadata={"description": "The caller's id, echoed back."},
        ),
    }
    groups: dict[str, dict[str, ma.fields.Field]] = {}
    for fact in facts:
        if fact.group:
            groups.setdefault(fact.group, {})[fact.key] = _field(fact)
        else:
            top[fact.name] = _field(fact)
    for group, fields in groups.items():
        nested = _Strict.from_dict(fields, name=f"{name}{group.title()}")
        top[group] = ma.fields.Nested(
            nested, allow_none=True, metadata={"description": f"Facts about the {group}."}
        )
    top["context"] = ma.fields.Nested(
        ContextSchema,
        allow_none=True,
        metadata={
            "description": "Names, sums and dates that fill the ready-to-send messages; never a "
            "fact: it changes no step."
        },
    )
    return _Strict.from_dict(top, name=name)


def nest(flat: Mapping[str, Any]) -> dict:
    """Dotted fact names (`client.silent_days`) back into the case's nested objects."""
    case: dict = {}
    for name, value in flat.items():
        group, dot, key = name.partition(".")
        if dot:
            case.setdefault(group, {})[key] = value
        else:
            case[name] = value
    return case
