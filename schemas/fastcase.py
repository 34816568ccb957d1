"""A fast path for valid cases, with the marshmallow schema as the judge.

`load(schema, data)` is `schema.load(data)`, only faster for the common case. At first
use a checker is derived from the schema's own fields (schemas/case.py): exact booleans,
bounded integers, enumerations, short strings, lists of distinct enumerated items, and
groups of those, each read off the field's class and validators. A case the checker
accepts is loaded by it, with the very result marshmallow gives (the same keys, in the
schema's order, and values); anything else, from a wrong type to an unknown field, goes
to marshmallow, which decides and words every error with its field path. A field of
any other kind (the messages' `context`, with its dates and its schema-level check) is
loaded by its own marshmallow field, and a schema with a shape the checker does not
know is always loaded by marshmallow. tests/test_fastcase.py proves, over generated
valid and invalid cases, that whatever the checker accepts marshmallow accepts with an
equal result.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import marshmallow as ma

from schemas.case import StrictBoolean, StrictString, UniqueList
from schemas.common import StrictInteger

# Field kinds, tested in this order.
BOOLEAN, INTEGER, ENUM, STRING, LIST, GROUP, FIELD = range(7)

Checker = Callable[[Any], "dict | None"]
_checkers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def load(schema: ma.Schema, data: Any) -> dict:
    """`schema.load(data)`: by the fast checker when it accepts `data`, else by marshmallow
    (which raises ValidationError with the field paths)."""
    check = _checkers.get(schema)
    if check is None:
        check = _checkers[schema] = checker(schema)
    case = check(data)
    return case if case is not None else schema.load(data)


class Unsupported(Exception):
    """A field or schema the checker does not know: marshmallow loads it."""


def _only(validators, kind: type) -> Any:
    if len(validators) != 1 or type(validators[0]) is not kind:
        raise Unsupported(kind.__name__)
    return validators[0]


def _spec(name: str, field: Any) -> tuple:  # a ma.fields.Field of any kind
    """(name, kind, required, allow_none, arguments) for one field."""
    if field.data_key is not None or field.attribute is not None:
        raise Unsupported(f"{name}: renamed")
    head = (name, field.required, field.allow_none)
    kind = type(field)
    try:
        if kind is StrictBoolean and not field.validators:
            return (*head, BOOLEAN, None)
        if kind is StrictInteger:
            limits = _only(field.validators, ma.validate.Range)
            if not (limits.min_inclusive and limits.max_inclusive):
                raise Unsupported(f"{name}: exclusive range")
            if type(limits.min) is not int or type(limits.max) is not int:
                raise Unsupported(f"{name}: open range")
            return (*head, INTEGER, (limits.min, limits.max))
        if kind is StrictString:
            if len(field.validators) == 1 and type(field.validators[0]) is ma.validate.OneOf:
                return (*head, ENUM, frozenset(field.validators[0].choices))
            size = _only(field.validators, ma.validate.Length)
            if size.equal is not None or type(size.max) is not int:
                raise Unsupported(f"{name}: length")
            return (*head, STRING, (size.min or 0, size.max))
        if kind is UniqueList:
            size = _only(field.validators, ma.validate.Length)
            inner = field.inner
            if size.equal is not None or size.max is not None or type(inner) is not StrictString:
                raise Unsupported(f"{name}: list")
            if inner.allow_none or inner.required:
                raise Unsupported(f"{name}: list items")
            items = _only(inner.validators, ma.validate.OneOf)
            return (*head, LIST, (size.min or 0, frozenset(items.choices)))
        if (
            kind is ma.fields.Nested
            and not field.many
            and field.unknown is None
            and isinstance(field.schema, ma.Schema)
        ):
            return (*head, GROUP, _fields(field.schema))
    except Unsupported:
        pass
    return (*head, FIELD, field)


def _fields(schema: ma.Schema) -> tuple:
    """The specs of a schema's fields, in the order marshmallow loads them; Unsupported
    when the schema does more than load its fields one by one (hooks, other options)."""
    if any(schema._hooks.values()) or schema.many or schema.partial:
        raise Unsupported("hooks")
    if schema.unknown != ma.RAISE or schema.dict_class is not dict:
        raise Unsupported("options")
    return tuple(_spec(name, field) for name, field in schema.load_fields.items())


def checker(schema: ma.Schema) -> Checker:
    """The fast checker of `schema`: the loaded case, or None (marshmallow decides)."""
    try:
        specs = _fields(schema)
    except Unsupported:
        return lambda data: None

    def check(data: Any) -> dict | None:
        if type(data) is not dict:
            return None
        return _load(specs, data)

    return check


def _load(specs: tuple, data: dict) -> dict | None:
    out: dict = {}
    seen = 0
    for name, required, allow_none, kind, arg in specs:
        if name not in data:
            if required:
                return None
            continue
        seen += 1
        value = data[name]
        if value is None:
            if not allow_none:
                return None
            out[name] = None
        elif kind == BOOLEAN:
            if type(value) is not bool:
                return None
            out[name] = value
        elif kind == INTEGER:
            if type(value) is not int or not arg[0] <= value <= arg[1]:
                return None
            out[name] = value
        elif kind == ENUM:
            if type(value) is not str or value not in arg:
                return None
            out[name] = value
        elif kind == STRING:
            if type(value) is not str or not arg[0] <= len(value) <= arg[1]:
                return None
            out[name] = value
        elif kind == LIST:
            if type(value) is not list or len(value) < arg[0]:
                return None
            choices = arg[1]
            for item in value:
                if type(item) is not str or item not in choices:
                    return None
            if len(set(value)) != len(value):
                return None
            out[name] = list(value)
        elif kind == GROUP:
            if type(value) is not dict:
                return None
            group = _load(arg, value)
            if group is None:
                return None
            out[name] = group
        else:
            try:
                out[name] = arg.deserialize(value, name, data)
            except ma.ValidationError:
                return None
    if seen != len(data):  # an unknown field
        return None
    return out
