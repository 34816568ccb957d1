"""The Flask app: configuration, the compiled rules, error handling, the routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import (
    api,
    batch,
    compression,
    errors,
    fastjson,
    fastlane,
    health,
    observability,
    page,
    security,
    state,
)
from service import config as settings
from service.names import EXTENSION


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, the compiled rules, error handling, the routes.

    `config` overrides the DISPUTE_GUIDE_* environment (tests pass a mapping).
    A broken rules folder raises service.rulebook.RulesError: the service does not start.
    """
    app = Flask("service")  # the package: its static/ and templates/, its logger name
    values = settings.from_env()
    values.update(config or {})
    app.config.from_mapping(values)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    # orjson: the same bytes as json.dumps, faster; keys unsorted, non-ASCII as it is
    app.json = fastjson.Provider(app)
    observability.init_app(app)  # first: the request id and timing wrap everything else
    security.init_app(app)
    compression.init_app(app)  # gzip for text answers the client accepts compressed
    loaded = state.load(app.config["RULES_DIR"])
    loaded.engine.observer = observability.metrics(app).evaluated
    app.extensions[EXTENSION] = loaded
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(batch.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(page.bp)
    # The hot route's common requests, answered without Flask's per-request work (the same
    # functions, the same answers; the rest goes on to Flask): service/fastlane.py.
    app.wsgi_app = fastlane.FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
