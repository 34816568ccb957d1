"""Request ids, one JSON log line per request, and Prometheus metrics.

Metrics work with several gunicorn workers: gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before anything imports prometheus_client,
every process (the master included: it counts rule reloads) writes its own files there,
and GET /metrics sums them. Without that variable (tests, `flask run`), the app's own
registry is used.

The log line names the request, never the case's facts: they may be personal data.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.encoding import dumps
from service.names import EXTENSION, LOGGER, NAME

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
METRICS_EXTENSION = f"{NAME}_metrics"  # the app's extensions key of its metrics


class Metrics:
    """The service's metrics, registered in one registry per app (tests build many apps)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry  # every metric is named dispute_guide_* by its namespace
        self.requests = Counter(
            "requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=r,
            namespace=NAME,
        )
        self.latency = Histogram(
            "request_duration_seconds",
            "Time to answer a request (to the first byte when streamed).",
            ["route"],
            registry=r,
            namespace=NAME,
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
        )
        self.evaluations = Counter("evaluations", "Cases evaluated.", registry=r, namespace=NAME)
        self.rules_fired = Counter(
            "rules_fired", "Rules fired, by rule id.", ["rule"], registry=r, namespace=NAME
        )
        self.validation_errors = Counter(
            "validation_errors",
            "Requests or cases refused as invalid (4xx).",
            ["route", "status"],
            registry=r,
            namespace=NAME,
        )
        self.engine_errors = Counter(
            "engine_errors", "Evaluations the engine failed on.", registry=r, namespace=NAME
        )
        self.rule_reloads = Counter(
            "rule_reloads",
            "Rule reloads (SIGHUP), by outcome.",
            ["outcome"],
            registry=r,
            namespace=NAME,
        )

        # Label lookups cost more than the increments: children are bound once and kept.
        self._fired: dict = {}
        self._answered: dict = {}
        self._timed: dict = {}

    def evaluated(self, guidance) -> None:
        self.evaluations.inc()
        children = self._fired
        for rule in guidance.rules_fired:
            child = children.get(rule.id)
            if child is None:
                child = children[rule.id] = self.rules_fired.labels(rule.id)
            child.inc()

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._answered.get(key)
        if child is None:
            child = self._answered[key] = self.requests.labels(route, method, str(status))
        child.inc()
        timer = self._timed.get(route)
        if timer is None:
            timer = self._timed[route] = self.latency.labels(route)
        timer.observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def metrics(app: Flask | None = None) -> Metrics:
    return (app or current_app).extensions[METRICS_EXTENSION]


class JsonFormatter(logging.Formatter):
    """One compact JSON object per line: time, level, message, and the record's `fields`
    (written by orjson: a fifteenth of the standard library's time for a request's line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return dumps(entry, str).decode()




class RequestLog:
    """The per-request line, written straight to the handler's stream: the same JSON as
    JsonFormatter writes, without the logging module's per-record work (a LogRecord, the
    level and filter checks, the frame lookup), which cost as much as the rest of the
    request's bookkeeping together. Other formats, and every other line, go through
    `logging` as usual."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        handler = logger.handlers[0] if logger.handlers else None
        # The fast path writes to a stream: a stream handler's, with the JSON formatter.
        self.handler: logging.StreamHandler | None = (
            handler
            if isinstance(handler, logging.StreamHandler)
            and isinstance(handler.formatter, JsonFormatter)
            else None
        )
        self.fast = self.handler is not None
        self._second = -1
        self._prefix = ""

    def request(self, fields: dict) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        handler = self.handler
        if handler is None:
            self.logger.info("request", extra={"fields": fields})
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # formatted once a second, as formatTime would
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
        entry = {
            "ts": f"{self._prefix}.{int((now - second) * 1000):03d}Z",
            "level": "info",
            "message": "request",
            **fields,
        }
        line = dumps(entry, str).decode() + "\n"
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        except Exception:  # noqa: BLE001 - as logging does: a log that fails stays silent
            handler.handleError(logging.makeLogRecord({"msg": "request"}))
        finally:
            handler.release()


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


def request_id_of(given: str) -> str:
    """The request's id: the caller's X-Request-ID when it is safe to echo, else a new one."""
    return given if _SAFE_REQUEST_ID.fullmatch(given) else fresh_id()


def fresh_id() -> str:
    """`uuid.uuid4().hex` (random, version 4, RFC 4122 variant), without building a UUID
    object, which costs five times as much."""
    value = int.from_bytes(os.urandom(16))
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # the variant
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # the version
    return f"{value:032x}"


class Bookkeeping:
    """What ends every request, whichever way it was answered (Flask's hooks below, or the
    hot route's lean path in service/fastlane.py): the metrics and the log line."""

    def __init__(self, app: Flask, request_log: RequestLog):
        self.app = app
        self.metrics = metrics(app)
        self.request_log = request_log

    def finish(
        self,
        route: str,
        method: str,
        path: str,
        status: int,
        started: float,
        request_id: str | None,
        case_id: str | None,
    ) -> None:
        duration = time.perf_counter() - started
        m = self.metrics
        m.answered(route, method, status, duration)
        if 400 <= status < 500 and status not in (401, 404, 405):
            m.validation_errors.labels(route, str(status)).inc()
        state = self.app.extensions.get(EXTENSION)
        self.request_log.request(
            {
                "event": "request",
                "method": method,
                "route": route,
                "path": path[:200],
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "request_id": request_id,
                "case_id": case_id,
                "ruleset_version": state.version if state else None,
            }
        )


BOOKKEEPING_EXTENSION = f"{NAME}_bookkeeping"  # the app's extensions key of its Bookkeeping


def bookkeeping(app: Flask) -> Bookkeeping:
    return app.extensions[BOOKKEEPING_EXTENSION]


def init_app(app: Flask) -> None:
    app.extensions[METRICS_EXTENSION] = Metrics()
    logger = configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    book = app.extensions[BOOKKEEPING_EXTENSION] = Bookkeeping(app, RequestLog(logger))

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        g.request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER, ""))

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("started")
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        book.finish(
            request.url_rule.rule if request.url_rule else "unmatched",
            request.method,
            request.path,
            response.status_code,
            time.perf_counter() if started is None else started,
            request_id,
            g.get("case_id"),
        )
        return response

    @app.get("/metrics")
    def prometheus_metrics():
        """Prometheus text format, summed over the gunicorn workers."""
        return Response(
            metrics(app).exposition(),
            mimetype=CONTENT_TYPE_LATEST.split(";")[0],
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
