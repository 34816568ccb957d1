"""Configuration: read once, from DISPUTE_GUIDE_* environment variables, in the app factory.

Every setting is listed in SETTINGS (name, default, parser, description); the README's
configuration table is generated from it (`dispute-guide config --markdown`) and a test
keeps the two equal. A wrong value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.exceptions import DisputeGuideError

PREFIX = "DISPUTE_GUIDE_"


class ConfigError(DisputeGuideError):
    """A configuration value that cannot be used; the message names the variable."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _text(text: str) -> str:
    return text.strip()


def _csv(text: str) -> tuple:
    return tuple(item.strip() for item in text.split(",") if item.strip())


_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def _frame_origins(text: str) -> tuple:
    """Origins as `scheme://host[:port]`, `self` (this service), or `none` alone."""
    items = [item.strip("'").lower().rstrip("/") for item in _csv(text)]
    if "none" in items:
        if len(items) > 1:
            raise ValueError("must be `none` alone, or a list of origins")
        return ("none",)
    for item in items:
        if item != "self" and not _ORIGIN.fullmatch(item):
            raise ValueError(
                f"must be origins like https://crm.example.com (no path, no `*`), "
                f"`self` or `none`; {item!r} is not one"
            )
    return tuple(dict.fromkeys(items))


# The one spelling of true and false in text: settings, query parameters, the page's flags.
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool | None:
    """True or False for a word of TRUE_WORDS or FALSE_WORDS (any case, spaces around
    ignored); None for anything else, which each caller refuses in its own way."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    return None


def _bool(text: str) -> bool:
    value = parse_bool(text)
    if value is None:
        raise ValueError("must be true or false")
    return value


@dataclass(frozen=True)
class Setting:
    key: str  # the Flask config key; the variable is PREFIX + key
    default: Any
    parse: Callable[[str], Any]
    description: str

    @property
    def variable(self) -> str:
        return PREFIX + self.key


SETTINGS = (
    Setting("BIND", "127.0.0.1:8000", _text, "Address and port gunicorn listens on."),
    Setting(
        "WORKERS",
        0,
        _non_negative_int,
        "gunicorn worker processes; 0 means one per core (at most 8).",
    ),
    Setting("THREADS", 4, _positive_int, "Threads per worker."),
    Setting(
        "TIMEOUT",
        30,
        _positive_int,
        "Seconds a request may take before gunicorn restarts its worker.",
    ),
    Setting(
        "READ_TIMEOUT",
        5,
        _positive_int,
        "Seconds a client may pause while sending a request's headers or body; then it is "
        "answered with a 408 (headers) or 400 (body) problem and the connection closed.",
    ),
    Setting(
        "RULES_DIR", "", _text, "Folder of the rule files; empty means the bundled `rules/` folder."
    ),
    Setting(
        "MAX_BODY_BYTES", 1048576, _positive_int, "Largest request body accepted (413 above it)."
    ),
    Setting("BATCH_LIMIT", 1000, _positive_int, "Most cases in one JSON batch request."),
    Setting(
        "LOG_LEVEL",
        "info",
        _choice("debug", "info", "warning", "error"),
        "Lowest level of the log lines written.",
    ),
    Setting(
        "LOG_FORMAT",
        "json",
        _choice("json", "text"),
        "One JSON object per line, or plain text for reading by eye.",
    ),
    Setting(
        "API_KEYS",
        (),
        _csv,
        "Comma-separated API keys; when any key is set, /v1/* needs `Authorization: Bearer <key>`.",
    ),
    Setting(
        "API_KEYS_FILE",
        "",
        _text,
        "A file of SHA-256 hashes (hex) of API keys, one per line, `#` comments; "
        "`dispute-guide hash-key` makes one.",
    ),
    Setting(
        "METRICS_KEY", "", _text, "When set, GET /metrics needs `Authorization: Bearer <this key>`."
    ),
    Setting(
        "CORS_ORIGINS",
        (),
        _csv,
        "Comma-separated origins (`https://crm.example.com`) allowed to call /v1/* from "
        "a browser; `*` allows any.",
    ),
    Setting(
        "FRAME_ORIGINS",
        (),
        _frame_origins,
        "Comma-separated origins allowed to show the page (`GET /`) in a frame, sent as CSP "
        "`frame-ancestors`; `self` is this service, `none` forbids framing. Empty means "
        "`self` and the origins of CORS_ORIGINS (not `*`).",
    ),
    Setting(
        "COMPRESS_API",
        False,
        _bool,
        "gzip the answers to POST /v1/* (evaluations) for clients that accept it; the "
        "page, its assets and the GET documents are always offered gzipped.",
    ),
    Setting(
        "REQUEST_TIMEOUT",
        20,
        _positive_int,
        "Seconds a batch may run before it is answered with a 503 problem (keep it below "
        "TIMEOUT, when gunicorn kills the worker).",
    ),
)


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings from the environment, defaults for the rest; ConfigError names a bad one."""
    environ = os.environ if environ is None else environ
    config = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable)
        if raw is None or raw == "":
            config[setting.key] = setting.default
            continue
        try:
            config[setting.key] = setting.parse(raw)
        except ValueError as error:
            message = str(error) if "must" in str(error) else f"not a valid value ({error})"
            raise ConfigError(f"{setting.variable}={raw!r}: {message}") from None
    return config


def markdown_table() -> str:
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    for s in SETTINGS:
        default = ",".join(s.default) if isinstance(s.default, tuple) else s.default
        rows.append(
            f"| `{s.variable}` | `{default}` | {s.description} |"
            if default != ""
            else f"| `{s.variable}` | (empty) | {s.description} |"
        )
    return "\n".join(rows)
