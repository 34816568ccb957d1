"""Without a browser: compression of text answers, and who may frame the page."""

from __future__ import annotations

import gzip
import json

import pytest

from service import create_app
from service.config import ConfigError, from_env

CASE = {"situations": ["client_silent"], "prepayment": "partial", "client": {"silent_days": 14}}
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def body(response) -> bytes:
    try:
        data = response.get_data()
        return gzip.decompress(data) if response.headers.get("Content-Encoding") == "gzip" else data
    finally:
        response.close()


@pytest.mark.parametrize(
    "path",
    [
        "/?lang=en",
        "/?lang=ru",
        "/static/page.js",
        "/static/page.css",
        "/v1/rules",
        "/v1/steps",
        "/openapi.yaml",
    ],
)
def test_text_answers_are_gzipped_when_the_client_accepts_it(client, path):
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert (
        "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )
    assert int(packed.headers["Content-Length"]) < int(plain.headers["Content-Length"]) / 2
    plain_etag, packed_etag = plain.headers.get("ETag"), packed.headers.get("ETag")
    assert body(packed) == body(plain)
    if plain_etag:  # a static file: the compressed bytes have an ETag of their own
        assert packed_etag != plain_etag


def test_no_gzip_when_refused_small_or_partial(client):
    refused = client.get("/static/page.js", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    refused.close()
    small = client.get("/healthz", headers=GZIP)
    assert "Content-Encoding" not in small.headers
    part = client.get("/static/page.js", headers={**GZIP, "Range": "bytes=0-99"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert len(body(part)) == 100


def test_evaluations_are_gzipped_only_when_configured(client):
    answer = client.post("/v1/guidance", json=CASE, headers=GZIP)
    assert "Content-Encoding" not in answer.headers
    app = create_app({"TESTING": True, "COMPRESS_API": True})
    with app.test_client() as other:
        packed = other.post("/v1/guidance", json=CASE, headers=GZIP)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert json.loads(body(packed)) == answer.get_json()
        # An NDJSON batch streams line by line: never held back to be compressed.
        stream = other.post(
            "/v1/guidance/batch",
            data=json.dumps(CASE) + "\n",
            headers={**GZIP, "Content-Type": "application/x-ndjson"},
        )
        assert "Content-Encoding" not in stream.headers
        assert len(body(stream).splitlines()) == 2


def directives(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())


def test_by_default_only_the_service_and_the_cors_origins_may_frame_the_page(client):
    page = client.get("/")
    assert directives(page)["frame-ancestors"] == "'self'"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    app = create_app({"TESTING": True, "CORS_ORIGINS": ("https://crm.example.com", "*")})
    with app.test_client() as other:
        assert directives(other.get("/"))["frame-ancestors"] == "'self' https://crm.example.com"


@pytest.mark.parametrize(
    "setting, expected, legacy",
    [
        (
            "https://crm.example.com,http://127.0.0.2:8080",
            "https://crm.example.com http://127.0.0.2:8080",
            "SAMEORIGIN",
        ),
        ("self, https://crm.example.com/", "'self' https://crm.example.com", "SAMEORIGIN"),
        ("'none'", "'none'", "DENY"),
    ],
)
def test_the_frame_origins_setting(setting, expected, legacy):
    config = from_env(
        {
            "DISPUTE_GUIDE_FRAME_ORIGINS": setting,
            "DISPUTE_GUIDE_CORS_ORIGINS": "https://other.example.com",
        }
    )
    app = create_app({**config, "TESTING": True})
    with app.test_client() as client:
        page = client.get("/?embed=1")
        assert directives(page)["frame-ancestors"] == expected
        assert page.headers["X-Frame-Options"] == legacy
        # The page knows the same list, to post its events to an allowed parent only.
        html = page.get_data(as_text=True)
        data = json.loads(
            html.split('<script type="application/json" id="page-data">', 1)[1].split(
                "</script>", 1
            )[0]
        )
        assert data["embed"] is True
        assert (
            " ".join(
                "'self'" if o == "self" else "'none'" if o == "none" else o
                for o in data["frame_origins"]
            )
            == expected
        )


@pytest.mark.parametrize(
    "setting",
    ["*", "https://crm.example.com/path", "none, self", "crm.example.com", "javascript:alert(1)"],
)
def test_a_bad_frame_origin_stops_start_up_naming_the_variable(setting):
    with pytest.raises(ConfigError, match="DISPUTE_GUIDE_FRAME_ORIGINS"):
        from_env({"DISPUTE_GUIDE_FRAME_ORIGINS": setting})
