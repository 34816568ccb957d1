"""Running a batch on one machine: ordered chunks over worker processes, the output, the
progress bar and the summary.

A run never hangs and never leaves a file that looks complete:
- a worker that dies (killed by a signal, as the out-of-memory killer does) fails the run
  at once with exit status 2: its chunk is lost with it, and guessing which cases it had
  already written is not worth a retry that could hide a case that kills workers;
- a file output is written to a hidden temporary file in the same folder and renamed into
  place only when the run succeeds (stdout is written as it goes);
- the workers die with the main process (the kernel kills them when it goes).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from service.batch_eval import Evaluator, Job, Outcome
from service.batch_input import Input, Unusable, need_pyarrow
from service.batch_workers import WorkerDied, Workers
from service.exceptions import DisputeGuideError
from service.tally import Tally

CSV_OUTPUT_COLUMNS = ("line", "case_id", "steps", "questions", "ruleset_version")
PARQUET_OUTPUT_COLUMNS = ("file", "line", "case_id", "steps", "questions", "ruleset_version")
PARQUET_ROW_GROUP = 10_000
CHUNK = 200  # cases per task sent to a worker
TOP_STEPS = 10


class RunFailed(DisputeGuideError):
    """The run could not finish (exit status 2); nothing that looks complete was written."""


def started_at() -> float:
    """When this process started, on the time.monotonic() clock (Linux), else now."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(age, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()


# --- output ----------------------------------------------------------------------------


class Sink:
    """Where outcomes go. A file is written under a temporary name and renamed into place
    by `commit`; `abort` removes it. stdout is written as it goes."""

    def __init__(self, path: str):
        self.path = path
        self.temp: str | None = None
        if path == "-":
            self.stream: BinaryIO = sys.stdout.buffer
            return
        target = Path(path)
        try:
            fd, self.temp = tempfile.mkstemp(
                dir=target.resolve().parent, prefix=f".{target.name}.", suffix=".partial"
            )
        except OSError as error:
            raise Unusable(f"{path}: {error.strerror}") from None
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
        self.stream = os.fdopen(fd, "wb")

    def header(self, columns: tuple) -> None:
        self.stream.write((",".join(columns) + "\n").encode())

    def write(self, outcome: Outcome) -> None:
        self.stream.write(outcome.text.encode("utf-8"))

    def finish(self) -> None:
        self.stream.flush()

    def commit(self) -> None:
        self.finish()
        if self.temp:
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temp, self.path)
            self.temp = None

    def abort(self) -> None:
        if self.temp:
            self.stream.close()
            os.unlink(self.temp)
            self.temp = None


class ParquetSink(Sink):
    """One row per case (PARQUET_OUTPUT_COLUMNS, and `messages` when asked for), in row
    groups of PARQUET_ROW_GROUP."""

    def __init__(self, path: str, source: str, messages: bool = False):
        if path == "-":
            raise Unusable("Parquet output goes to a file, not to stdout")
        need_pyarrow()
        super().__init__(path)
        self.source = source
        self.messages = messages
        self.rows: list = []
        self.writer: Any = None  # a pyarrow ParquetWriter, from the first rows on

    def header(self, columns: tuple) -> None:
        pass

    def write(self, outcome: Outcome) -> None:
        self.rows.append(outcome.text)
        if len(self.rows) >= PARQUET_ROW_GROUP:
            self._flush_rows()

    def _flush_rows(self) -> None:
        import pyarrow.parquet as pq  # the parquet extra, loaded only for Parquet

        table = parquet_table(self.rows, self.source, self.messages)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.stream, table.schema)
        self.writer.write_table(table)
        self.rows = []

    def finish(self) -> None:
        if self.rows or self.writer is None:
            self._flush_rows()
        self.writer.close()
        super().finish()


def parquet_table(rows: list, source: str, messages: bool = False):
    """Evaluator rows (line, case_id, steps, questions, ruleset_version[, messages as JSON])
    as an Arrow table."""
    import pyarrow as pa  # the parquet extra, loaded only for Parquet

    fields = [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("case_id", pa.string()),
        ("steps", pa.list_(pa.string())),
        ("questions", pa.list_(pa.string())),
        ("ruleset_version", pa.string()),
    ]
    if messages:
        fields.append(("messages", pa.string()))
    schema = pa.schema(fields)
    data = list(zip(*rows, strict=True)) if rows else [()] * (len(fields) - 1)
    return pa.table([[source] * len(rows), *data], schema=schema)


def open_sink(path: str, job: Job, source: str) -> Sink:
    if job.output_format == "parquet":
        return ParquetSink(path, source, job.message_column)
    return Sink(path)


# --- the run -----------------------------------------------------------------------------------


class Run:
    """One batch run: feeds chunks to the workers in order, writes, counts, shows progress."""

    def __init__(self, state, job: Job, jobs: int, sink: Sink, source: Input, started: float):
        self.state = state
        self.job = job
        self.jobs = jobs
        self.sink = sink
        self.source = source
        self.tally = Tally()
        self.started = started
        self.seconds = 0.0
        self.progress = Progress(sys.stderr, source.size) if sys.stderr.isatty() else None

    def execute(self, records: Iterable) -> None:
        """Evaluate every record; the output is committed only if all went through."""
        try:
            if self.job.output_format == "csv":
                self.sink.header(CSV_OUTPUT_COLUMNS + ("messages",) * self.job.message_column)
            for outcomes, position in self._outcomes(records):
                for outcome in outcomes:
                    self._take(outcome)
                if self.progress:
                    self.progress.update(self.tally.cases, position)
            if self.progress:
                self.progress.finish(self.tally.cases, self.source.position())
            self.sink.commit()
        except BaseException:
            if self.progress:
                self.progress.clear()
            self.sink.abort()
            raise
        finally:
            self.seconds = time.monotonic() - self.started

    def _take(self, outcome: Outcome) -> None:
        if outcome.problems:
            self.tally.add_error()
            if self.progress:
                self.progress.clear()
            for problem in outcome.problems:
                print(f"line {outcome.line}: {problem.field}: {problem.message}", file=sys.stderr)
            return
        self.tally.add(outcome.situations, outcome.steps)
        self.sink.write(outcome)

    def _chunks(self, records: Iterable) -> Iterator[tuple[list, int | None]]:
        chunk = []
        for record in records:
            chunk.append(record)
            if len(chunk) == CHUNK:
                yield chunk, self.source.position()
                chunk = []
        if chunk:
            yield chunk, self.source.position()

    def _outcomes(self, records: Iterable) -> Iterator[tuple[list, int | None]]:
        """Each chunk's outcomes, in input order, with the input position after it."""
        if self.jobs == 1:
            evaluator = Evaluator(self.job, self.state)
            for chunk, position in self._chunks(records):
                yield evaluator(chunk), position
            return
        workers = Workers(self.jobs, self.job)
        finished = False
        try:
            yield from workers.map(self._chunks(records))
            finished = True
        except WorkerDied as died:
            raise RunFailed(
                f"a worker process died ({died.how}); the run is stopped, "
                "and no output file was written"
            ) from None
        finally:
            workers.close(finished)


def summary_rows(tally: Tally, seconds: float, workers: tuple[str, str]) -> list[tuple[str, str]]:
    """The summary table's rows; `seconds` is the wall time of the whole command."""
    rate = tally.cases / seconds if seconds > 0 else 0.0
    return [
        ("cases", f"{tally.cases:,}"),
        ("evaluated", f"{tally.evaluated:,}"),
        ("skipped", f"{tally.errors:,}"),
        ("wall time", f"{seconds:.1f} s"),
        ("cases/s", f"{rate:,.0f}"),
        workers,
    ]


def print_summary(tally: Tally, rulebook, rows: list[tuple[str, str]]) -> None:
    lines = [f"{name:<10}{value:>12}" for name, value in rows]
    ranked = tally.ranked(tally.steps, rulebook)[:TOP_STEPS]
    if ranked:
        width = max(len(step) for step, _ in ranked)
        lines += ["", f"{'top steps':<{width}}  {'cases':>10}  {'%':>5}"]
        lines += [
            f"{step:<{width}}  {count:>10,}  {100 * count / tally.evaluated:>5.1f}"
            for step, count in ranked
        ]
    print("\n".join(lines), file=sys.stderr)


class Progress:
    """A one-line progress bar, redrawn at most ten times a second (a terminal only)."""

    WIDTH = 30

    def __init__(self, stream, total: int | None):
        self.stream = stream
        self.total = total or None
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.shown = False

    def update(self, cases: int, position: int | None, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        elapsed = max(now - self.started, 1e-9)
        rate = f"{cases / elapsed:,.0f} cases/s"
        if self.total and position is not None:
            done = min(position / self.total, 1.0)
            filled = int(done * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            eta = "" if final or done <= 0 else f", {elapsed * (1 - done) / done:.0f} s left"
            text = f"[{bar}] {done:4.0%}  {cases:,} cases, {rate}{eta}"
        else:
            text = f"{cases:,} cases, {rate}"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.shown = False

    def finish(self, cases: int, position: int | None) -> None:
        self.update(cases, position, final=True)
        self.stream.write("\n")
        self.stream.flush()
