"""gunicorn's threaded worker, with problem+json for the requests gunicorn refuses itself.

A malformed request line or header, a header block or a path over gunicorn's limits, a
broken chunked encoding: gunicorn answers these before the app sees the request, with an
HTML page. Here they get the same RFC 9457 body as every other error. gunicorn.conf.py
names this worker class; importing it (in the master, before the workers are forked)
swaps gunicorn's error writer, which its workers call by module attribute.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

MAX_DETAIL = 300


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    detail = (mesg or "The server failed on this request; it has been logged.")[:MAX_DETAIL]
    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int,
                       "detail": detail}).encode("utf-8")
    head = (f"HTTP/1.1 {status_int} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/problem+json\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Cache-Control: no-store\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = write_problem


class ProblemThreadWorker(ThreadWorker):
    """The gthread worker; see the module's docstring."""
