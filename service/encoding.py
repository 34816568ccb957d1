"""Answers written with orjson: the very bytes the standard library's compact JSON writes.

Every JSON the service sends goes through `dumps`: the single endpoint's answers and
problems (through service/fastjson.py's `Provider`, the app's Flask JSON provider), JSON
and NDJSON batches, and the JSONL of `dispute-guide batch`, so they stay equal byte for
byte whichever way a case is sent. For the values the service writes (dicts with string
keys, lists, strings, integers, booleans and null) orjson's output equals
`json.dumps(value, ensure_ascii=False, separators=(",", ":"))`: the same escapes (`\\"`,
`\\\\`, `\\n`, `\\u001f`; no other character escaped, U+2028 and DEL included) and the
same order of keys; tests/test_fastjson.py proves it over generated values. Anything else
goes to the standard library: a non-string key, an integer beyond 64 bits, a subclass of a
built-in type, a date (Flask writes it as an HTTP date), any object that only Flask's
`default` knows. The one difference left is a float's exponent (`1e+16` is `1e16`, NaN is
null); no answer, problem or summary holds a float.

Request bodies are still parsed by service/jsonio.py: orjson keeps the last of duplicate
keys and refuses `1e400` with its own message, so its problems would not be today's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

# Dates, dataclasses and subclasses of built-in types go to `default` (below), so they are
# written as the standard library and Flask write them, not as orjson would.
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON of `value`: what `json.dumps(value, ensure_ascii=False,
    separators=(",", ":"), default=default)` writes, encoded."""
    try:
        return orjson.dumps(value, default=default or _refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a value only the standard library writes
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), default=default
        ).encode()


def dumps_line(value: Any) -> str:
    """One compact JSON line (JSON escapes every newline inside strings)."""
    return dumps(value).decode() + "\n"
