"""gunicorn's threaded worker, with problem+json for the requests gunicorn refuses itself,
and a time limit on clients that stop sending.

A malformed request line or header, a header block or a path over gunicorn's limits, a
broken chunked encoding: gunicorn answers these before the app sees the request, with an
HTML page. Here they get the same RFC 9457 body as every other error. gunicorn.conf.py
names this worker class; importing it (in the master, before the workers are forked)
swaps gunicorn's error writer, which its workers call by module attribute.

gthread reads a request's headers and body with a blocking socket and no time limit, so
a client that stops sending half-way (slowloris) holds a worker thread for ever: as many
of them as threads and the service answers nobody. Here every read of a request waits at
most DISPUTE_GUIDE_READ_TIMEOUT seconds: a stall in the headers is answered with a 408
problem, a stall in the body with the app's 400 problem, and the thread is free again.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from service.config import from_env
from service.names import CLOSE_CONNECTION

MAX_DETAIL = 300


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    detail = (mesg or "The server failed on this request; it has been logged.")[:MAX_DETAIL]
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status_int, "detail": detail}
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = write_problem


class _HeadersWithDeadline:
    """gunicorn's request parser, answering a client that stalls in its headers with a 408."""

    def __init__(self, parser, sock):
        self._parser, self._sock = parser, sock

    def __iter__(self):
        return self

    def __getattr__(self, name):  # finish_body and the rest: the parser's own
        return getattr(self._parser, name)

    def __next__(self):
        try:
            return next(self._parser)
        except TimeoutError:
            try:
                write_problem(
                    self._sock,
                    408,
                    "Request Timeout",
                    "The request's headers stopped arriving; the connection is closed.",
                )
            except OSError:
                pass
            raise StopIteration from None  # gthread closes the connection


def _closing(app):
    """The app, able to ask for `Connection: close` (WSGI forbids it the header itself).

    The app sets environ[CLOSE_CONNECTION] when the rest of the connection cannot be
    trusted (a body that stopped arriving); gunicorn's response object is what
    start_response is bound to.
    """

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            response = getattr(start_response, "__self__", None)
            if environ.get(CLOSE_CONNECTION) and response is not None:
                response.must_close = True
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


class ProblemThreadWorker(ThreadWorker):
    """The gthread worker; see the module's docstring."""

    def init_process(self):
        self.read_timeout = from_env()["READ_TIMEOUT"]
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = _closing(self.wsgi)

    def handle(self, conn):
        if "init" not in vars(conn):  # once per connection: keep-alive comes back here
            initialize = conn.init
            timeout = self.read_timeout

            def init_with_deadline():
                initialize()
                conn.sock.settimeout(timeout)  # every read of this request, bounded
                if not isinstance(conn.parser, _HeadersWithDeadline):
                    conn.parser = _HeadersWithDeadline(conn.parser, conn.sock)

            conn.init = init_with_deadline
        return super().handle(conn)
