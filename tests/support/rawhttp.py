"""Requests written byte by byte: raw sockets and http.client, for hostile input.

Nothing here tidies a request up: `exchange` sends exactly the bytes given and reads one
response, whatever it declares; `post` sends a body as it is.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading

PROBLEM = "application/problem+json"


class Answer:
    def __init__(self, status: int, headers: dict, body: bytes, version: int = 11):
        self.status, self.headers, self.body, self.version = status, headers, body, version

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self):
        return json.loads(self.body)

    def lines(self) -> list:
        return [json.loads(line) for line in self.body.decode("utf-8").splitlines()]

    def problem(self) -> dict:
        """The problem body without its request_id (checked against X-Request-ID)."""
        assert self.content_type == PROBLEM, (self.status, self.content_type, self.body[:300])
        body = self.json()
        assert body.pop("request_id") == self.headers["x-request-id"]
        return body

    def __repr__(self):
        return f"<Answer {self.status} {self.content_type} {self.body[:200]!r}>"


def _answer(response: http.client.HTTPResponse) -> Answer:
    """The status, the headers (lower-case names), the body and the HTTP version."""
    return Answer(
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        response.read(),
        response.version,
    )


def post(
    port: int,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    headers: dict | None = None,
    timeout: float = 60,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})}
        )
        return _answer(conn.getresponse())
    finally:
        conn.close()


def exchange(
    port: int, data: bytes, half_close: bool = False, timeout: float = 30, more: bytes = b""
) -> Answer:
    """Send raw bytes; read one response (http.client parses it, whatever it declares).

    `more` is sent from a thread while the response is read: a server may answer (a 413)
    and close before it has read a large body, as HTTP allows; the sender then stops.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sender = None
        if more:

            def send():
                try:
                    sock.sendall(more)
                except OSError:
                    pass

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            return _answer(response)
        finally:
            response.close()
            if sender:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # unblocks the sender
                except OSError:
                    pass  # the server has closed it already
                sender.join(timeout)


def raw_post(
    path: str,
    head: bytes,
    body: bytes,
    content_type: bytes = b"application/json",
    version: bytes = b"HTTP/1.1",
    host: bool = True,
) -> bytes:
    return (
        b"POST "
        + path.encode()
        + b" "
        + version
        + b"\r\n"
        + (b"Host: test\r\n" if host else b"")
        + b"Content-Type: "
        + content_type
        + b"\r\n"
        + head
        + b"\r\n"
        + body
    )


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
