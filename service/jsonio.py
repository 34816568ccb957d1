"""Strict JSON parsing of request bodies: every failure is a precise 400."""

from __future__ import annotations

import json
import re
from typing import Any

from service.problems import MalformedJson

MAX_INT_DIGITS = 400  # far beyond any bound; keeps int() parsing cheap on hostile input


def _pairs(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJson(f"Duplicate key {key!r} in an object.")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not a JSON number.")


def _int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise MalformedJson(f"A number with {len(text)} digits is too long.")
    return int(text)


_decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_int)
# `\ud800` alone decodes to a lone surrogate, which no answer could encode again.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _refuse_lone_surrogates(document: Any) -> None:
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                code = ord(item[error.start])
                raise MalformedJson(
                    f"A string holds a lone surrogate \\u{code:04x}: not a Unicode character."
                ) from None


def loads(data: bytes) -> Any:
    """Parse a UTF-8 JSON document; raise MalformedJson saying where and why it is broken."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJson(f"The body is not valid UTF-8 (byte {error.start}).") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = _decoder.decode(text)
    except json.JSONDecodeError as error:
        raise MalformedJson(
            f"Malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}."
        ) from None
    except RecursionError:
        raise MalformedJson("The JSON is nested too deeply.") from None
    if _SURROGATE_ESCAPE.search(text):  # rare: only then walk the document
        _refuse_lone_surrogates(document)
    return document
