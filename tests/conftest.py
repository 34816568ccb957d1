"""Fixtures: the app (pytest-flask), the loaded rules, the real server under gunicorn."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from service import create_app

ROOT = Path(__file__).resolve().parent.parent


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real gunicorn serving the app on a free loopback port."""

    def __init__(self, env: dict | None = None, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DISPUTE_GUIDE_WORKERS": str(workers),
            "DISPUTE_GUIDE_THREADS": str(threads),
            "DISPUTE_GUIDE_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self, timeout: float = 30.0) -> Server:
        # Output goes to a file, not a pipe: a full pipe would block the server.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.stop())
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> str:
        """Stop gunicorn (SIGTERM, then SIGKILL after 30 s); return what it printed."""
        if not self.proc:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        output = self.output()
        if self.log:
            self.log.close()
            self.log = None
        return output

    def output(self) -> str:
        """What gunicorn and the app have printed so far."""
        if not self.log:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@pytest.fixture(scope="session")
def server():
    srv = Server().start()
    yield srv
    srv.stop()
