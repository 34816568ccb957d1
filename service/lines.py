"""Reading a stream line by line with bounded memory.

Shared by the NDJSON batch endpoint and the command line's JSONL and CSV readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

NDJSON = "application/x-ndjson"  # one JSON text per line
MAX_LINE_BYTES = 64 * 1024  # one NDJSON line, its line break included


class Readable(Protocol):
    def readline(self, size: int, /) -> bytes: ...


def read_lines(stream: Readable, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line without its break) for each line of a binary stream.

    A line longer than `limit` bytes (its break included) comes as None, and is skipped
    in pieces, never held whole: memory stays bounded whatever the input.
    """
    number = 0
    while True:
        line = stream.readline(limit)
        if not line:
            return
        number += 1
        if line.endswith(b"\n"):
            yield number, line.rstrip(b"\r\n")
        elif len(line) < limit:
            yield number, line  # the last line, without a break
        else:
            while line and not line.endswith(b"\n"):
                line = stream.readline(limit)
            yield number, None
