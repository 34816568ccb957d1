"""The real service under gunicorn on a free loopback port, for the tests and bench/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    step: float = 0.05,
    what: str = "a condition",
) -> Any:
    """Poll `predicate` until it returns something true (returned), for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def children(pid: int) -> set[int]:
    """The pids of a process's children (gunicorn's workers), from /proc."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            pids.add(int(entry))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` has open."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _tcp(pid: int) -> list[list[str]]:
    """The rows of /proc/PID/net/tcp: local and remote address, state, ..., inode (10th)."""
    with open(f"/proc/{pid}/net/tcp", encoding="ascii") as f:
        return [line.split() for line in f.readlines()[1:]]


def holds(pid: int, client: socket.socket) -> bool:
    """Whether process `pid` has accepted the loopback connection of `client`: the server's
    end of it (remote port: the client's) is one of the process's open files."""
    port = client.getsockname()[1]
    inodes = {r[9] for r in _tcp(pid) if int(r[2].split(":")[1], 16) == port and r[9] != "0"}
    return bool(inodes & _socket_inodes(pid))


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port` (gunicorn's master closes its
    own as it starts stopping, before it signals the workers)."""
    inodes = {r[9] for r in _tcp(pid) if int(r[1].split(":")[1], 16) == port and r[3] == "0A"}
    return bool(inodes & _socket_inodes(pid))


class Server:
    """A real gunicorn serving the app on a free loopback port.

    `app` is the WSGI target (default: the repository's gunicorn.conf.py's, the service);
    `args` more gunicorn options; `prefix` a command that runs gunicorn (setpriv, ...);
    `threads` None leaves the settings' default. `start` returns once /readyz answers 200
    and all the workers are up.
    """

    def __init__(
        self,
        env: dict | None = None,
        workers: int = 2,
        threads: int | None = 4,
        app: str | None = None,
        args: Sequence[str] = (),
        prefix: Sequence[str] = (),
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DISPUTE_GUIDE_WORKERS": str(workers),
            **({"DISPUTE_GUIDE_THREADS": str(threads)} if threads else {}),
            "DISPUTE_GUIDE_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.app, self.args, self.prefix = app, list(args), list(prefix)
        self.worker_count = int(self.env["DISPUTE_GUIDE_WORKERS"])
        self.proc: subprocess.Popen | None = None
        self.log: Any = None

    def command(self) -> list[str]:
        return [
            *self.prefix,
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.args,
            *([self.app] if self.app else []),
        ]

    def start(self, timeout: float = 60.0) -> Server:
        # Output goes to a file, not a pipe: a full pipe would block the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            wait_for(self.ready, timeout, 0.1, "gunicorn to become ready")
        except AssertionError:
            self.stop()
            raise RuntimeError("gunicorn did not become ready") from None
        return self

    def ready(self) -> bool:
        """/readyz answers 200 and every worker is up; raises if gunicorn has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + self.stop())
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                if response.status != 200:
                    return False
        except OSError:
            return False
        return len(self.workers()) >= self.worker_count

    def workers(self) -> set[int]:
        """The worker processes' pids."""
        assert self.proc is not None
        return children(self.proc.pid)

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
