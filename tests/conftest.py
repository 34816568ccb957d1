"""Fixtures: the app (pytest-flask), the loaded rules, the real server under gunicorn.

The helpers behind them are in tests/support/, which the test modules import.
"""

from __future__ import annotations

import gc

import pytest
import yaml

from service import create_app
from tests.support.server import ROOT, Server


@pytest.fixture(scope="session")
def app():
    return create_app({"TESTING": True})


@pytest.fixture(scope="session")
def state(app):
    return app.extensions["dispute_guide"]


@pytest.fixture(scope="session")
def engine(state):
    return state.engine


@pytest.fixture(scope="module")
def no_cyclic_gc():
    """Keep the cyclic collector out of the way of a module that parses huge answers.

    Millions of small JSON objects make it rescan the heap again and again (about half
    of the parsing time); nothing there makes cycles worth collecting before the end.
    """
    gc.disable()
    yield
    gc.enable()
    gc.collect()


@pytest.fixture(scope="session")
def spec():
    return yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def server():
    srv = Server().start()
    yield srv
    srv.stop()
