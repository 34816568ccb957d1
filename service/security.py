"""API keys, CORS, and the headers every answer carries."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from pathlib import Path
from typing import NamedTuple

from flask import Flask, Response, request

from service.config import ConfigError
from service.names import LOGGER, NAME
from service.problems import ApiError

log = logging.getLogger(LOGGER)
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
REALM = 'Bearer realm="dispute-guide"'
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Accept-Language, X-Request-ID"
CORS_EXPOSE = "X-Request-ID, Content-Language"
PROTECTED_PREFIX = "/v1/"


class Unauthorized(ApiError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_key_hashes(keys: tuple, keys_file: str) -> tuple[bytes, ...]:
    """SHA-256 digests of the configured keys; ConfigError names a bad file or line."""
    hashes = [hash_key(k) for k in keys]
    if keys_file:
        path = Path(keys_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"DISPUTE_GUIDE_API_KEYS_FILE={keys_file!r}: cannot be read: {error}"
            ) from None
        for number, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip().lower()
            if not line:
                continue
            if not _HEX_SHA256.fullmatch(line):
                raise ConfigError(
                    f"DISPUTE_GUIDE_API_KEYS_FILE={keys_file!r}: line {number}: "
                    "not a SHA-256 hash in hex (dispute-guide hash-key makes one)"
                )
            hashes.append(line)
    return tuple(bytes.fromhex(h) for h in hashes)


def presented_key(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _matches(token: str, hashes: tuple[bytes, ...]) -> bool:
    """Compare digests in constant time, against every key (no early exit that leaks which)."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
    found = False
    for expected in hashes:
        found |= hmac.compare_digest(digest, expected)
    return found


class Access(NamedTuple):
    """Who may call what: the digests of the API and metrics keys, the CORS origins."""

    api_hashes: tuple[bytes, ...]
    metrics_hashes: tuple[bytes, ...]
    origins: frozenset[str]

    def refusal(self, method: str, path: str, authorization: str) -> Unauthorized | None:
        """Why a request may not be answered (its 401), or None when it may."""
        if method == "OPTIONS":
            return None  # CORS preflights carry no credentials
        if path.startswith(PROTECTED_PREFIX):
            needed = self.api_hashes
        elif path == "/metrics":
            needed = self.metrics_hashes
        else:
            return None
        if not needed:
            return None
        token = presented_key(authorization)
        if token is None:
            return Unauthorized("Send `Authorization: Bearer <API key>`.")
        if not _matches(token, needed):
            return Unauthorized("The API key is not valid.")
        return None

    def cors_headers(self, method: str, path: str, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers of an answer to a request from `origin` (the Origin header)."""
        origins = self.origins
        if not (
            origin and path.startswith(PROTECTED_PREFIX) and (origin in origins or "*" in origins)
        ):
            return []
        headers = [
            ("Access-Control-Allow-Origin", "*" if "*" in origins else origin),
            ("Access-Control-Expose-Headers", CORS_EXPOSE),
        ]
        if method == "OPTIONS":
            headers += [
                ("Access-Control-Allow-Methods", CORS_METHODS),
                ("Access-Control-Allow-Headers", CORS_HEADERS),
                ("Access-Control-Max-Age", "600"),
            ]
        return headers


ACCESS_EXTENSION = f"{NAME}_access"  # the app's extensions key of its Access


def access(app: Flask) -> Access:
    return app.extensions[ACCESS_EXTENSION]


def init_app(app: Flask) -> None:
    api_hashes = load_key_hashes(app.config["API_KEYS"], app.config["API_KEYS_FILE"])
    metrics_hashes = (
        load_key_hashes((app.config["METRICS_KEY"],), "") if app.config["METRICS_KEY"] else ()
    )
    rules = app.extensions[ACCESS_EXTENSION] = Access(
        api_hashes, metrics_hashes, frozenset(app.config["CORS_ORIGINS"])
    )
    if not api_hashes:
        log.warning(
            "no API key is configured: /v1/* is open to anyone who can reach it "
            "(set DISPUTE_GUIDE_API_KEYS or DISPUTE_GUIDE_API_KEYS_FILE)",
            extra={"fields": {"event": "open_access"}},
        )

    @app.before_request
    def _authenticate():
        refusal = rules.refusal(
            request.method, request.path, request.headers.get("Authorization", "")
        )
        if refusal is not None:
            raise refusal
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "no-store")
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = REALM
        for name, value in rules.cors_headers(
            request.method, request.path, request.headers.get("Origin")
        ):
            response.headers[name] = value
        if rules.origins:
            response.vary.add("Origin")
        return response


# --- who may show the page in a frame -------------------------------------------


def frame_origins(config) -> tuple[str, ...]:
    """The origins allowed to frame the page: FRAME_ORIGINS, else `self` and the CORS origins.

    A CORS `*` is not carried over: letting any site call the API is not letting any site
    put the page (and an API key typed into it) under its own buttons.
    """
    given = tuple(config["FRAME_ORIGINS"])
    if given:
        return given
    return ("self",) + tuple(o for o in config["CORS_ORIGINS"] if o != "*")


def frame_headers(response: Response, origins: tuple[str, ...]) -> None:
    """CSP `frame-ancestors` (appended to the answer's policy) and X-Frame-Options.

    Browsers that know `frame-ancestors` ignore X-Frame-Options when it is present; the
    older ones get SAMEORIGIN (DENY for `none`), so they fail closed.
    """
    if origins == ("none",):
        directive, legacy = "frame-ancestors 'none'", "DENY"
    else:
        sources = ["'self'" if o == "self" else o for o in origins]
        directive, legacy = "frame-ancestors " + " ".join(sources), "SAMEORIGIN"
    policy = response.headers.get("Content-Security-Policy")
    response.headers["Content-Security-Policy"] = f"{policy}; {directive}" if policy else directive
    response.headers["X-Frame-Options"] = legacy
