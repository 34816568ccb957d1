"""The rules the app serves (service.core.Loaded, in the app's extensions), and reloading them."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from flask import Flask, current_app

from service.core import Loaded, load
from service.names import EXTENSION, LOGGER
from service.observability import metrics

log = logging.getLogger(LOGGER)


def loaded() -> Loaded:
    """The rules the current app serves."""
    return current_app.extensions[EXTENSION]


def reload(app: Flask, rules_dir: str | Path | None = None) -> bool:
    """Load the rules folder again; on success serve the new rules, else keep the old ones.

    gunicorn calls this in the master on SIGHUP (gunicorn.conf.py, on_reload), before it
    forks the new workers and lets the old ones finish their requests: no request is
    dropped, and a broken change never takes the service down. The failure is logged,
    shown by /readyz and counted in /metrics.
    """
    old: Loaded = app.extensions[EXTENSION]
    folder = rules_dir if rules_dir is not None else app.config["RULES_DIR"]
    try:
        new = load(folder)
    except Exception as error:  # anything at all: the old rules keep serving
        log.error(
            "rule reload failed; still serving ruleset %s",
            old.version,
            extra={
                "fields": {
                    "event": "rule_reload",
                    "outcome": "failed",
                    "ruleset_version": old.version,
                    "error": str(error),
                }
            },
        )
        metrics(app).rule_reloads.labels("failed").inc()
        app.extensions[EXTENSION] = replace(old, reload_error=str(error))
        return False
    new.engine.observer = old.engine.observer
    app.extensions[EXTENSION] = new
    log.info(
        "rules reloaded",
        extra={
            "fields": {
                "event": "rule_reload",
                "outcome": "ok",
                "ruleset_version": new.version,
                "previous_version": old.version,
            }
        },
    )
    metrics(app).rule_reloads.labels("ok").inc()
    return True
