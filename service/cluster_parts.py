"""A batch run on a Dask cluster, part by part: a slice of the input evaluated by one task,
its answers written by the worker, its counts and bad lines sent back and merged.

Used by `dispute-guide batch --cluster` (service/cluster_cli.py); the rules travel and
compile as service/cluster.py ships them.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from service.batch_eval import Evaluator, Job, Outcome
from service.batch_input import (
    csv_records,
    csv_rows,
    jsonl_records,
    open_parquet,
    parquet_records,
)
from service.batch_run import parquet_table
from service.cluster import Rules, compiled
from service.tally import Tally


@dataclass(frozen=True)
class Part:
    """A slice of one input file: JSONL bytes, a whole CSV file, or a Parquet row group."""

    index: int
    url: str
    format: str
    offset: int = 0  # JSONL: the block's bytes; Parquet: the row group
    length: int | None = None
    first: int = 1  # the number of the part's first line (JSONL) or row (Parquet)
    columns: tuple | None = None  # CSV: the header's names


@dataclass
class PartResult:
    """What a task gives back: its counts and bad lines, never the answers (those are
    written to the output by the worker)."""

    tally: Tally
    problems: list  # (url, line, field, message)
    lines: int = 0  # JSONL: the line breaks in the block


def count_lines(url: str, offset: int, length: int) -> int:
    """The line breaks in a JSONL block (the first pass: where each block's lines start)."""
    return _read_block(url, offset, length).count(b"\n")


def _read_block(url: str, offset: int, length: int | None) -> bytes:
    import fsspec  # the cluster extra, loaded only on a cluster
    from fsspec.utils import read_block  # the cluster extra, loaded only on a cluster

    with fsspec.open(url, "rb") as f:
        return read_block(f, offset, length, b"\n")


def _records(part: Part, state):
    import fsspec  # the cluster extra, loaded only on a cluster

    if part.format == "jsonl":
        yield from jsonl_records(
            io.BytesIO(_read_block(part.url, part.offset, part.length)), part.first
        )
        return
    with fsspec.open(part.url, "rb") as opened:
        if part.format == "parquet":
            parquet = open_parquet(opened, state.rulebook, part.url)
            yield from parquet_records(parquet, [part.offset], part.first)
            return
        rows = csv_records(csv_rows(opened))
        next(rows, None)  # the header, checked by the client
        yield from rows


def evaluate_part(part: Part, job: Job, rules: Rules, out: str | None) -> PartResult:
    """Evaluate a part; write its answers to `out`/part-NNNNN.<format>, under a temporary
    name renamed into place, so that a task run again (its worker died) replaces it."""
    state = compiled(rules)
    job = Job(
        None,
        part.format,
        part.columns,
        job.output_format,
        job.lang,
        job.questions,
        job.most,
        job.messages,
    )
    evaluator = Evaluator(job, state)
    result = PartResult(Tally(), [])
    kept: list = []
    for number, raw in _records(part, state):
        outcome: Outcome = evaluator.one(number, raw)
        if outcome.problems:
            result.tally.add_error()
            result.problems += [(part.url, number, p.field, p.message) for p in outcome.problems]
        else:
            result.tally.add(outcome.situations, outcome.steps)
            kept.append(outcome.text)
    if out is not None:
        _write_part(out, part, job, kept)
    return result


def part_name(index: int, output_format: str) -> str:
    return f"part-{index:05d}.{output_format}"


def _write_part(out: str, part: Part, job: Job, kept: list) -> None:
    output_format = job.output_format
    from fsspec.core import url_to_fs  # the cluster extra, loaded only on a cluster

    fs, folder = url_to_fs(out)
    final = f"{folder.rstrip('/')}/{part_name(part.index, output_format)}"
    temp = f"{folder.rstrip('/')}/.{uuid.uuid4().hex}.partial"
    if output_format == "parquet":
        import pyarrow.parquet as pq  # the parquet extra: only when Parquet is written

        with fs.open(temp, "wb") as f:
            pq.write_table(parquet_table(kept, part.url, job.message_column), f)
    else:
        with fs.open(temp, "wb") as f:
            f.write("".join(kept).encode("utf-8"))
    fs.mv(temp, final)


def merge(*results: PartResult) -> PartResult:
    """Several parts' results as one: the summary is reduced on the cluster this way."""
    total = PartResult(Tally(), [])
    for result in results:
        total.tally.add_tally(result.tally)
        total.problems += result.problems
    return total


def problem_lines(problems: list) -> list[str]:
    """The report lines of bad lines, in file and line order."""
    return [
        f"{url.removeprefix('file://')}: line {line}: {field}: {message}"
        for url, line, field, message in sorted(problems, key=lambda p: (p[0], p[1]))
    ]
