"""dispute-guide: what a freelancer should do in a dispute with a client, as an HTTP service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app (service/app.py); `gunicorn 'service:create_app()'` calls this.

    The import is here, not at the top, on purpose: every `import service.<module>` runs
    this file first, and importing Flask here would make the Flask-free core (validating,
    rendering, the batch runs, the schemas) load Flask too.
    """
    from service.app import create_app as build

    return build(config)
