"""Request ids, one JSON log line per request, and Prometheus metrics.

Metrics work with several gunicorn workers: gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before anything imports prometheus_client,
every process (the master included: it counts rule reloads) writes its own files there,
and GET /metrics sums them. Without that variable (tests, `flask run`), the app's own
registry is used.

The log line names the request, never the case's facts: they may be personal data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client import multiprocess

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
LOGGER = "dispute_guide"
EXTENSION = "dispute_guide_metrics"


class Metrics:
    """The service's metrics, registered in one registry per app (tests build many apps)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("dispute_guide_requests", "HTTP requests answered.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("dispute_guide_request_duration_seconds",
                                 "Time to answer a request (to the first byte when streamed).",
                                 ["route"], registry=r,
                                 buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5,
                                          1, 2.5, 5, 10))
        self.evaluations = Counter("dispute_guide_evaluations", "Cases evaluated.", registry=r)
        self.rules_fired = Counter("dispute_guide_rules_fired", "Rules fired, by rule id.",
                                   ["rule"], registry=r)
        self.validation_errors = Counter("dispute_guide_validation_errors",
                                         "Requests or cases refused as invalid (4xx).",
                                         ["route", "status"], registry=r)
        self.engine_errors = Counter("dispute_guide_engine_errors",
                                     "Evaluations the engine failed on.", registry=r)
        self.rule_reloads = Counter("dispute_guide_rule_reloads",
                                    "Rule reloads (SIGHUP), by outcome.", ["outcome"], registry=r)

    def evaluated(self, guidance) -> None:
        self.evaluations.inc()
        fired = self.rules_fired
        for rule in guidance.rules_fired:
            fired.labels(rule.id).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def metrics(app: Flask | None = None) -> Metrics:
    return (app or current_app).extensions[EXTENSION]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        line = f"{self.formatTime(record)} {record.levelname} {record.getMessage()} {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line.rstrip()


def configure_logging(level: str, fmt: str) -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Metrics()
    logger = configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def _finish(response: Response) -> Response:
        duration = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        m = metrics(app)
        status = response.status_code
        m.requests.labels(route, request.method, str(status)).inc()
        m.latency.labels(route).observe(duration)
        if 400 <= status < 500 and status not in (401, 404, 405):
            m.validation_errors.labels(route, str(status)).inc()
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        state = app.extensions.get("dispute_guide")
        fields = {"event": "request", "method": request.method, "route": route,
                  "path": request.path[:200], "status": status,
                  "duration_ms": round(duration * 1000, 3), "request_id": request_id,
                  "case_id": g.get("case_id"),
                  "ruleset_version": state.version if state else None}
        logger.info("request", extra={"fields": fields})
        return response

    @app.get("/metrics")
    def prometheus_metrics():
        """Prometheus text format, summed over the gunicorn workers."""
        return Response(metrics(app).exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
