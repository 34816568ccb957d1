"""What the schemas, and through them the whole project, share: the languages, the strict
fields, and marshmallow's error messages by path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import marshmallow as ma

LANGS = ("en", "ru")  # every text of the rules and of the answers is in each of these
DEFAULT_LANG = "en"  # an answer's language when none is asked for, or one not in LANGS


def in_each_language(
    base: type[ma.Schema], field: Callable[[], ma.fields.Field], name: str
) -> type[ma.Schema]:
    """`base` with one more field per language of LANGS, each made by `field`."""
    return base.from_dict({lang: field() for lang in LANGS}, name=name)


class StrictInteger(ma.fields.Integer):
    """An integer as JSON or YAML writes it: no booleans, strings or floats (not even 5.0)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if type(value) is not int:
            raise self.make_error("invalid")
        return value


def message_paths(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """marshmallow's nested error messages as (dotted path, message) pairs, in order.

    An object's own errors (`_schema`) take the object's path; the top's path is "".
    """
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            yield from message_paths(value, path)
    elif isinstance(messages, list):
        for i, message in enumerate(messages):
            if isinstance(message, str):
                yield prefix, message
            else:
                yield from message_paths(message, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, str(messages)
