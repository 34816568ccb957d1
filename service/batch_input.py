"""Reading a batch: the formats, the input stream, and its records.

A record is `(line number, raw case)`, or `(line number, LineProblem)` for a line that
cannot even be read. The raw case is what the evaluator parses: JSONL the line's bytes,
CSV the row's cells, Parquet the row as a dict (struct columns for nested facts).
Everything here streams: memory stays flat for any number of lines.
"""

from __future__ import annotations

import csv
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from service.exceptions import DisputeGuideError
from service.lines import MAX_LINE_BYTES, read_lines

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PARQUET_ROWS = 1000  # rows read from a Parquet file at a time


class Unusable(DisputeGuideError):
    """The arguments or the input cannot be used at all (exit status 2)."""


class LineProblem(NamedTuple):
    field: str
    message: str


def missing_extra(package: str, extra: str, purpose: str) -> Unusable:
    """The error for an optional dependency that is not installed: it names the install command."""
    return Unusable(
        f"{purpose} needs {package}, which is not installed: pip install 'dispute-guide[{extra}]'"
    )


def need_pyarrow(purpose: str = "Parquet"):
    try:
        import pyarrow  # the parquet extra, loaded only for Parquet
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise missing_extra("pyarrow", "parquet", purpose) from None
    return pyarrow


def format_of(path: str, given: str | None, option: str) -> str:
    if given:
        return given
    if path == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise Unusable(
            f"{path}: cannot tell the format from the extension "
            f"{suffix or '(none)'}; name it .jsonl, .csv or .parquet, or use {option}"
        )
    return EXTENSIONS[suffix]


class Input:
    """The input as a binary stream, and how far into it we are (for the progress bar)."""

    def __init__(self, stream: BinaryIO, owned: bool):
        self.stream = stream
        self.owned = owned
        try:
            info = os.fstat(stream.fileno())
        except (OSError, ValueError):
            info = None
        self.size = info.st_size if info and stat.S_ISREG(info.st_mode) else None

    def position(self) -> int | None:
        return self.stream.tell() if self.size is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.owned:
            self.stream.close()


def open_input(path: str) -> Input:
    if path == "-":
        return Input(sys.stdin.buffer, owned=False)
    try:
        return Input(open(path, "rb"), owned=True)
    except OSError as error:
        raise Unusable(f"{path}: {error.strerror}") from None


def same_file(source: Input, output: str) -> bool:
    try:
        return source.size is not None and os.path.samefile(source.stream.name, output)
    except (OSError, AttributeError, TypeError):
        return False


def records(source: Input, input_format: str, rulebook, name: str):
    """The input's records as (line number, raw case or LineProblem), and the CSV columns."""
    if input_format == "jsonl":
        return jsonl_records(source.stream), None
    if input_format == "parquet":
        if source.size is None:
            raise Unusable(f"{name}: Parquet is read from a file, not a stream")
        return parquet_records(open_parquet(source.stream, rulebook, name)), None
    rows = csv_records(csv_rows(source.stream))
    for number, row in rows:  # the first record is the header
        if isinstance(row, LineProblem):
            raise Unusable(f"{name}: line {number}: the header: {row.message}")
        return rows, columns(row, rulebook, f"{name}: line {number}")
    return iter(()), None  # no header: no cases


def jsonl_records(stream: BinaryIO, first: int = 1) -> Iterator[tuple[int, Any]]:
    for number, line in read_lines(stream):
        if line is None:
            yield number + first - 1, LineProblem("$", f"longer than {MAX_LINE_BYTES} bytes")
        elif line.strip():
            yield number + first - 1, line


def csv_rows(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """(first line number, cells) for each CSV record, or a LineProblem for a bad line."""
    troubles: list[tuple[int, LineProblem]] = []
    last = 0

    def texts() -> Iterator[str]:
        nonlocal last
        for number, line in read_lines(stream):
            last = number
            text = None
            if line is None:
                troubles.append((number, LineProblem("$", f"longer than {MAX_LINE_BYTES} bytes")))
            else:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    troubles.append(
                        (number, LineProblem("$", f"not valid UTF-8 (byte {error.start + 1})"))
                    )
            if number == 1 and text:
                text = text.removeprefix("\ufeff")  # as spreadsheets save UTF-8
            yield (text or "") + "\n"  # an empty line stands for a bad one: the reader skips it

    reader = csv.reader(texts(), strict=True)
    while True:
        start = last + 1
        row: list[str] | LineProblem | None
        try:
            row = next(reader)
        except StopIteration:
            row = None
        except csv.Error as error:
            row = LineProblem("$", f"not valid CSV: {error}")
        while troubles:
            yield troubles.pop(0)
        if row is None:
            return
        if row:
            yield start, row


def csv_records(rows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    for number, row in rows:
        if isinstance(row, LineProblem) or any(cell.strip() for cell in row):
            yield number, row  # a row of empty cells is a blank line, as spreadsheets save them


def columns(header: list[str], rulebook, where: str) -> tuple:
    """A CSV header's column names (None for an unnamed one), checked against the facts."""
    names = [cell.strip() for cell in header]
    known = ("case_id", *rulebook.facts)
    unknown = [n for n in names if n and n not in known]
    if unknown:
        raise Unusable(
            f"{where}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"case_id and the facts: {', '.join(rulebook.facts)}"
        )
    named = [n for n in names if n]
    duplicate = sorted({n for n in named if named.count(n) > 1})
    if duplicate:
        raise Unusable(f"{where}: duplicate column(s) {', '.join(duplicate)}")
    required = [name for name, fact in rulebook.facts.items() if fact.required]
    missing = [name for name in required if name not in named]
    if missing:
        raise Unusable(f"{where}: the header has no {', '.join(missing)} column")
    return tuple(n or None for n in names)


# --- Parquet ---------------------------------------------------------------------------


def parquet_records(
    parquet, row_groups: list[int] | None = None, first: int = 1
) -> Iterator[tuple[int, Any]]:
    """(row number, the row as a dict) for each row of an open Parquet file, from `first`."""
    number = first - 1
    for batch in parquet.iter_batches(PARQUET_ROWS, row_groups=row_groups):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def open_parquet(stream, rulebook, name: str):
    """A pyarrow ParquetFile whose columns were checked: case_id, the facts, and a struct
    column for each group of nested facts (`client` with `silent_days`, ...)."""
    need_pyarrow()
    import pyarrow  # the parquet extra, loaded only for Parquet
    import pyarrow.parquet as pq  # the parquet extra, loaded only for Parquet

    try:
        parquet = pq.ParquetFile(stream)
    except (pyarrow.ArrowException, OSError) as error:
        raise Unusable(f"{name}: not a Parquet file: {error}") from None
    groups = {fact.group for fact in rulebook.facts.values() if fact.group}
    known = ("case_id", *(n for n in rulebook.facts if "." not in n), *sorted(groups))
    names = parquet.schema_arrow.names
    unknown = [n for n in names if n not in known]
    if unknown:
        raise Unusable(
            f"{name}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"case_id, the facts, and a struct column for each group of nested "
            f"facts: {', '.join(known[1:])}"
        )
    missing = [n for n, fact in rulebook.facts.items() if fact.required and n not in names]
    if missing:
        raise Unusable(f"{name}: there is no {', '.join(missing)} column")
    return parquet
