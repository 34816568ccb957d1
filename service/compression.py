"""gzip for text answers (the page, its assets, the API's JSON), when the client accepts it.

Standard-library gzip at level 6, for an answer of at least MIN_BYTES whose type is text;
never for a streamed answer (NDJSON batches go out line by line), a partial one (Range) or
one already encoded. `Vary: Accept-Encoding` tells caches the answer depends on it, and a
compressed answer's ETag is marked so it never stands for the uncompressed bytes.

Evaluations (POST /v1/*) are compressed only with DISPUTE_GUIDE_COMPRESS_API=true: gzip
costs about 0.1 ms of CPU per answer next to about 0.8 ms for the evaluation with its
questions (measured on the load benchmark's cases), to save about 4 KB per answer that a
caller next to the service does not need saved. Everything else (the page, its script and
style, /v1/rules, /v1/steps, openapi.yaml) does not depend on a case and is always offered.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, current_app, request

LEVEL = 6
MIN_BYTES = 1024  # below this, the gzip header and the CPU are not worth it
TEXT_TYPES = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "text/javascript",
        "text/yaml",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/yaml",
        "application/x-yaml",
        "application/openmetrics-text",
        "image/svg+xml",
    }
)


def accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def compress(response: Response) -> Response:
    if response.mimetype not in TEXT_TYPES or response.status_code in (204, 206, 304):
        return response
    if "Content-Encoding" in response.headers or "Content-Range" in response.headers:
        return response
    if response.is_streamed and not response.direct_passthrough:
        return response  # a generator: compressing would hold the lines back
    if request.method == "POST" and not current_app.config.get("COMPRESS_API", False):
        return response
    response.vary.add("Accept-Encoding")
    if not accepts_gzip():
        return response
    response.direct_passthrough = False  # a static file: read it (they are small)
    data = response.get_data()
    if len(data) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(data, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(etag + "-gzip", bool(weak))
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)
