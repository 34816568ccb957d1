"""`dispute-guide batch IN -o OUT`: evaluate recorded cases from JSONL or CSV.

In: JSONL (one case per line, as POST /v1/guidance takes it) or CSV (a header row of
`case_id` and fact names, dotted for nested ones: `client.silent_days`; a list's items
separated by `;`; an empty cell is unknown; columns without a name are ignored).
Out: JSONL (one guidance per line, exactly what POST /v1/guidance answers) or CSV (one
row per case: its line, case_id, the step ids and the question fields joined by `;`).

Bad lines are reported on stderr as `line N: <field>: <problem>` and skipped; the input
is read as a stream and evaluated by `--jobs` processes in ordered chunks, so memory stays
flat for any number of lines. stderr shows a progress bar when it is a terminal, and a
summary table at the end (cases, skipped lines, the most recommended steps).
Exit status: 0 every line was good, 1 some were skipped, 2 the arguments or the input
cannot be used at all.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import multiprocessing
import os
import re
import signal
import stat
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from service.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

FORMATS = ("jsonl", "csv")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
LIST_SEPARATOR = ";"
CSV_OUTPUT_COLUMNS = ("line", "case_id", "steps", "questions", "ruleset_version")
CHUNK = 200  # cases per task sent to a worker
WINDOW = 3  # chunks in flight per worker: bounds memory however long the input is
TOP_STEPS = 10


class Unusable(Exception):
    """The arguments or the input cannot be used at all (exit status 2)."""


class LineProblem(NamedTuple):
    field: str
    message: str


class Outcome(NamedTuple):
    line: int
    text: str | None  # the output line(s); None when the line was skipped
    steps: tuple = ()
    situations: tuple = ()
    problems: tuple = ()  # LineProblem


@dataclass(frozen=True)
class Job:
    """What a worker needs to evaluate chunks (picklable: workers build their own state)."""

    rules: str | None
    input_format: str
    columns: tuple | None  # CSV: the header's names, None for an ignored column
    output_format: str
    lang: str
    questions: bool


# --- the command line ---------------------------------------------------------------

def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `batch` subcommand."""
    s = sub.add_parser(
        "batch", help="evaluate many cases from JSONL or CSV",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("input", metavar="IN", help="a .jsonl or .csv file of cases, or - for stdin")
    s.add_argument("-o", "--output", metavar="OUT", default="-",
                   help="a .jsonl or .csv file, or - for stdout (the default)")
    s.add_argument("--format", choices=FORMATS,
                   help="the input's format (default: from IN's extension; jsonl for -)")
    s.add_argument("--output-format", choices=FORMATS,
                   help="the output's format (default: from OUT's extension; jsonl for -)")
    s.add_argument("-j", "--jobs", type=_jobs, default=os.cpu_count() or 1,
                   help="worker processes (default: the number of cores, %(default)s here)")
    s.add_argument("--lang", choices=("en", "ru"), default="en")
    s.add_argument("--no-questions", action="store_true", help="skip the follow-up questions")
    s.add_argument("--rules", help="rules folder (default: the bundled one)")
    s.add_argument("--report", metavar="HTML",
                   help="also write a self-contained HTML report with a chart")
    s.set_defaults(func=cmd_batch)


def _format(path: str, given: str | None, option: str) -> str:
    if given:
        return given
    if path == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise Unusable(f"{path}: cannot tell the format from the extension "
                       f"{suffix or '(none)'}; name it .jsonl or .csv, or use {option}")
    return EXTENSIONS[suffix]


def _load_state(rules: str | None):
    from service.rulebook import RulesError
    from service.state import load

    if rules and not Path(rules).is_dir():
        raise Unusable(f"--rules {rules}: not a folder")
    try:
        return load(rules or None)
    except RulesError as error:
        raise Unusable(f"the rules cannot be loaded:\n{error}") from None


def cmd_batch(args: argparse.Namespace) -> int:
    """Evaluate every case of IN into OUT; report bad lines and a summary on stderr."""
    rules = args.rules or os.environ.get("DISPUTE_GUIDE_RULES_DIR") or None
    try:
        input_format = _format(args.input, args.format, "--format")
        output_format = _format(args.output, args.output_format, "--output-format")
        if args.report and not Path(args.report).resolve().parent.is_dir():
            raise Unusable(f"--report {args.report}: its folder does not exist")
        source = _open_input(args.input)
    except Unusable as error:
        print(f"dispute-guide batch: {error}", file=sys.stderr)
        return EXIT_USAGE
    with source:
        try:
            if args.output != "-" and _same_file(source, args.output):
                raise Unusable(f"{args.output}: the output would overwrite the input")
            state = _load_state(rules)
            records, columns = _records(source, input_format, state, args.input)
            sink = _open_output(args.output)
        except Unusable as error:
            print(f"dispute-guide batch: {error}", file=sys.stderr)
            return EXIT_USAGE
        job = Job(rules, input_format, columns, output_format, args.lang, not args.no_questions)
        with sink:
            run = Run(state, job, args.jobs, sink, source)
            run.execute(records)
    run.print_summary()
    if args.report:
        write_report(Path(args.report), run, args.input)
        print(f"report: {args.report}", file=sys.stderr)
    return EXIT_FAILED if run.tally.errors else EXIT_OK


# --- input -----------------------------------------------------------------------

class _Input:
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


def _open_input(path: str) -> _Input:
    if path == "-":
        return _Input(sys.stdin.buffer, owned=False)
    try:
        return _Input(open(path, "rb"), owned=True)
    except OSError as error:
        raise Unusable(f"{path}: {error.strerror}") from None


def _same_file(source: _Input, output: str) -> bool:
    try:
        return source.size is not None and os.path.samefile(source.stream.name, output)
    except (OSError, AttributeError, TypeError):
        return False


def _records(source: _Input, input_format: str, state, name: str):
    """The input's records as (line number, raw case or LineProblem), and the CSV columns."""
    if input_format == "jsonl":
        return _jsonl_records(source.stream), None
    rows = _csv_records(_csv_rows(source.stream))
    for number, row in rows:  # the first record is the header
        if isinstance(row, LineProblem):
            raise Unusable(f"{name}: line {number}: the header: {row.message}")
        return rows, _columns(row, state.rulebook, f"{name}: line {number}")
    return iter(()), None  # no header: no cases


def _jsonl_records(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    from service.batch import MAX_LINE_BYTES, read_lines

    for number, line in read_lines(stream):
        if line is None:
            yield number, LineProblem("$", f"longer than {MAX_LINE_BYTES} bytes")
        elif line.strip():
            yield number, line


def _csv_rows(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """(first line number, cells) for each CSV record, or a LineProblem for a bad line."""
    from service.batch import MAX_LINE_BYTES, read_lines

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
                    troubles.append((number, LineProblem(
                        "$", f"not valid UTF-8 (byte {error.start + 1})")))
            if number == 1 and text:
                text = text.removeprefix("\ufeff")  # as spreadsheets save UTF-8
            yield (text or "") + "\n"  # an empty line stands for a bad one: the reader skips it

    reader = csv.reader(texts(), strict=True)
    while True:
        start = last + 1
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


def _csv_records(rows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    for number, row in rows:
        if isinstance(row, LineProblem) or any(cell.strip() for cell in row):
            yield number, row  # a row of empty cells is a blank line, as spreadsheets save them


def _columns(header: list[str], rulebook, where: str) -> tuple:
    names = [cell.strip() for cell in header]
    known = ("case_id", *rulebook.facts)
    unknown = [n for n in names if n and n not in known]
    if unknown:
        raise Unusable(f"{where}: unknown column(s) {', '.join(unknown)}; the columns are "
                       f"case_id and the facts: {', '.join(rulebook.facts)}")
    named = [n for n in names if n]
    duplicate = sorted({n for n in named if named.count(n) > 1})
    if duplicate:
        raise Unusable(f"{where}: duplicate column(s) {', '.join(duplicate)}")
    required = [name for name, fact in rulebook.facts.items() if fact.required]
    missing = [name for name in required if name not in named]
    if missing:
        raise Unusable(f"{where}: the header has no {', '.join(missing)} column")
    return tuple(n or None for n in names)


# --- evaluating (in the workers, or in-process with --jobs 1) ------------------------

class CellError(ValueError):
    pass


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def _converter(fact) -> Callable[[str], Any]:
    """A CSV cell (not empty, stripped) to the fact's JSON type; the schema checks the rest."""
    if fact.type == "boolean":
        def boolean(cell: str) -> bool:
            value = cell.lower()
            if value not in ("true", "false"):
                raise CellError("Not a valid boolean: expected true or false.")
            return value == "true"
        return boolean
    if fact.type == "integer":
        def integer(cell: str) -> int:
            if not _INTEGER.fullmatch(cell):
                raise CellError("Not a valid integer.")
            return int(cell)
        return integer
    if fact.type == "list":
        return lambda cell: [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]
    return str


def nest(flat: dict) -> dict:
    """Dotted fact names back into the request's nested objects."""
    case: dict = {}
    for name, value in flat.items():
        group, dot, key = name.partition(".")
        if dot:
            case.setdefault(group, {})[key] = value
        else:
            case[name] = value
    return case


class Evaluator:
    """Turns raw records into output lines, exactly as the API renders each case."""

    def __init__(self, job: Job, state=None):
        from service import jsonio
        from service.api import DEFAULT_QUESTIONS, render_guidance, validate_case
        from service.batch import dumps_line
        from service.errors import ApiError

        self.job = job
        self.state = state or _load_state(job.rules)
        self._loads, self._render, self._validate = jsonio.loads, render_guidance, validate_case
        self._dumps, self._api_error = dumps_line, ApiError
        self._most = DEFAULT_QUESTIONS  # the CSV column lists the questions the JSON does
        if job.columns is not None:
            facts = self.state.rulebook.facts
            self.converters = [None if name is None else
                               str if name == "case_id" else _converter(facts[name])
                               for name in job.columns]
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, chunk: list) -> list[Outcome]:
        return [self.one(number, raw) for number, raw in chunk]

    def one(self, number: int, raw: Any) -> Outcome:
        if isinstance(raw, LineProblem):
            return Outcome(number, None, problems=(raw,))
        try:
            problems: list[LineProblem] = []
            try:
                case = self._validate(self.state, self.parse(raw, problems))
            except self._api_error as error:  # not JSON, or not a valid case
                problems += [LineProblem(field, message)
                             for field, messages in (error.errors or {"$": [error.detail]}).items()
                             for message in messages]
            if problems:
                return Outcome(number, None, problems=tuple(problems))
            return self.render(number, case)
        except Exception as error:  # a bug: this line is reported, the run goes on
            return Outcome(number, None, problems=(
                LineProblem("$", f"internal error: {type(error).__name__}: {error}"),))

    def parse(self, raw: Any, problems: list) -> Any:
        """The case as JSON would give it; a cell that cannot be converted adds a problem."""
        if self.job.input_format == "jsonl":
            return self._loads(raw)
        columns = self.job.columns
        if len(raw) != len(columns):
            raise self._api_error(f"{len(raw)} cells where the header has {len(columns)}")
        flat = {}
        for name, convert, cell in zip(columns, self.converters, raw):
            cell = cell.strip()
            if name is None or not cell:
                continue
            try:
                flat[name] = convert(cell)
            except CellError as error:
                problems.append(LineProblem(name, str(error)))
        return nest(flat)

    def render(self, number: int, case: dict) -> Outcome:
        guidance = self.state.engine.evaluate(case, self.job.questions)
        steps = tuple(advice.step.id for advice in guidance.steps)
        if self.job.output_format == "jsonl":
            text = self._dumps(self._render(guidance, self.job.lang))
        else:
            questions = (q.fact.name for q in (guidance.questions or ())[:self._most])
            text = self.csv_line([number, guidance.case_id or "", LIST_SEPARATOR.join(steps),
                                  LIST_SEPARATOR.join(questions), guidance.ruleset_version])
        return Outcome(number, text, steps, tuple(case["situations"]))

    def csv_line(self, row: list) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(row)
        return self._buffer.getvalue()


_evaluator: Evaluator | None = None


def _start_worker(job: Job) -> None:
    global _evaluator
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _evaluator = Evaluator(job)


def _run_chunk(chunk: list) -> list[Outcome]:
    return _evaluator(chunk)


# --- running -------------------------------------------------------------------------

class Run:
    """One batch run: feeds chunks to the workers in order, writes, counts, shows progress."""

    def __init__(self, state, job: Job, jobs: int, sink: BinaryIO, source: _Input):
        self.state = state
        self.job = job
        self.jobs = jobs
        self.sink = sink
        self.source = source
        from service.batch import Tally

        self.tally = Tally()
        self.started = time.monotonic()
        self.seconds = 0.0
        self.progress = Progress(sys.stderr, source.size) if sys.stderr.isatty() else None

    def execute(self, records: Iterable) -> None:
        if self.job.output_format == "csv":
            self.sink.write((",".join(CSV_OUTPUT_COLUMNS) + "\n").encode())
        try:
            for outcomes, position in self._outcomes(records):
                for outcome in outcomes:
                    self._take(outcome)
                if self.progress:
                    self.progress.update(self.tally.cases, position)
        finally:
            self.seconds = time.monotonic() - self.started
            if self.progress:
                self.progress.finish(self.tally.cases, self.source.position())

    def _take(self, outcome: Outcome) -> None:
        if outcome.problems:
            self.tally.add_error()
            if self.progress:
                self.progress.clear()
            for problem in outcome.problems:
                print(f"line {outcome.line}: {problem.field}: {problem.message}", file=sys.stderr)
            return
        self.tally.add(outcome.situations, outcome.steps)
        self.sink.write(outcome.text.encode("utf-8"))

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
        # Not Pool.imap: its results queue grows without bound when writing is slower than
        # evaluating. A window of ordered async chunks keeps the look-ahead bounded.
        with multiprocessing.get_context().Pool(self.jobs, _start_worker, (self.job,)) as pool:
            pending: deque = deque()
            for chunk, position in self._chunks(records):
                pending.append((pool.apply_async(_run_chunk, (chunk,)), position))
                if len(pending) >= self.jobs * WINDOW:
                    result, at = pending.popleft()
                    yield result.get(), at
            while pending:
                result, at = pending.popleft()
                yield result.get(), at
            pool.close()
            pool.join()

    def summary_rows(self) -> list[tuple[str, str]]:
        rate = self.tally.cases / self.seconds if self.seconds > 0 else 0.0
        return [("cases", f"{self.tally.cases:,}"), ("evaluated", f"{self.tally.evaluated:,}"),
                ("skipped", f"{self.tally.errors:,}"), ("seconds", f"{self.seconds:.1f}"),
                ("cases/s", f"{rate:,.0f}"), ("jobs", str(self.jobs))]

    def print_summary(self) -> None:
        lines = [f"{name:<10}{value:>12}" for name, value in self.summary_rows()]
        ranked = self.tally.ranked(self.tally.steps, self.state.rulebook)[:TOP_STEPS]
        if ranked:
            width = max(len(step) for step, _ in ranked)
            lines += ["", f"{'top steps':<{width}}  {'cases':>10}  {'%':>5}"]
            lines += [f"{step:<{width}}  {count:>10,}  {100 * count / self.tally.evaluated:>5.1f}"
                      for step, count in ranked]
        print("\n".join(lines), file=sys.stderr)


def _open_output(path: str) -> BinaryIO:
    if path == "-":
        return _Borrowed(sys.stdout.buffer)
    try:
        return open(path, "wb")
    except OSError as error:
        raise Unusable(f"{path}: {error.strerror}") from None


class _Borrowed:
    """stdout as a sink: flushed at the end, never closed."""

    def __init__(self, stream: BinaryIO):
        self.write = stream.write
        self._stream = stream

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stream.flush()


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


# --- the HTML report -------------------------------------------------------------------

def chart(run: Run):
    """A matplotlib Figure: how often each step was recommended in each situation's cases."""
    import matplotlib
    from matplotlib.figure import Figure

    tally, rulebook = run.tally, run.state.rulebook
    situations = tally.situation_order(rulebook)
    if not situations:
        return None
    categories = list(rulebook.categories)
    colours = matplotlib.colormaps["tab10"]
    panels = [(s, tally.ranked(tally.steps_by_situation[s], rulebook)) for s in situations]
    # A fixed layout (inches): the automatic ones measure every label and take seconds.
    bar, gap, top, bottom, left = 0.2, 0.85, 0.7, 0.5, 2.4
    bars_height = bar * sum(max(len(bars), 1) for _, bars in panels)
    height = top + bottom + bars_height + gap * (len(panels) - 1)
    figure = Figure(figsize=(10, height))
    figure.subplots_adjust(left=left / 10, right=0.97, top=1 - top / height, bottom=bottom / height,
                           hspace=gap / (bars_height / len(panels)))
    axes = figure.subplots(len(panels), 1, squeeze=False, gridspec_kw={
        "height_ratios": [max(len(bars), 1) for _, bars in panels]})[:, 0]
    labels = rulebook.facts["situations"].labels
    for ax, (situation, bars) in zip(axes, panels):
        cases = tally.situations[situation]
        names = [step for step, _ in bars][::-1]
        shares = [100 * count / cases for _, count in bars][::-1]
        ax.barh(names, shares, color=[colours(categories.index(rulebook.steps[n].category) % 10)
                                      for n in names])
        title = labels.get(situation, {}).get(run.job.lang, situation)
        ax.set_title(f"{situation}: {title} ({cases:,} cases)", loc="left", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of these cases the step was recommended in", fontsize=8, labelpad=2)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    used = {rulebook.steps[step].category for _, bars in panels for step, _ in bars}
    handles = [matplotlib.patches.Patch(color=colours(i % 10), label=category)
               for i, category in enumerate(categories) if category in used]
    figure.legend(handles=handles, loc="upper center", ncols=len(handles), fontsize=8,
                  frameon=False)
    return figure


def _chart_svg(run: Run) -> str:
    """The chart as inline SVG (text as text: the page stays small and searchable)."""
    import matplotlib

    figure = chart(run)
    if figure is None:
        return ""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "dispute-guide", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # inline: no XML prolog or doctype inside HTML


_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .8em;border-bottom:1px solid #ddd}
th{text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}svg{max-width:100%;height:auto}code{font-size:90%;white-space:nowrap}"""


def write_report(path: Path, run: Run, source: str) -> None:
    """A self-contained HTML page: the summary, every step's count, and the chart."""
    e = html.escape
    tally, rulebook, lang = run.tally, run.state.rulebook, run.job.lang
    summary = "".join(f"<tr><th>{e(name)}</th><td class=n>{e(value)}</td></tr>"
                      for name, value in run.summary_rows())
    steps = "".join(
        f"<tr><td><code>{e(step)}</code></td><td>{e(rulebook.steps[step].texts[lang]['title'])}"
        f"</td><td>{e(rulebook.steps[step].kind)}</td><td>{e(rulebook.steps[step].category)}</td>"
        f"<td class=n>{count:,}</td><td class=n>{100 * count / tally.evaluated:.1f}</td></tr>"
        for step, count in tally.ranked(tally.steps, rulebook))
    chart = _chart_svg(run)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="{e(lang)}">
<head>
<meta charset="utf-8">
<title>dispute-guide batch report: {e(source)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Batch report</h1>
<p>Input <code>{e(source)}</code>, ruleset <code>{e(rulebook.version)}</code>,
texts in <code>{e(lang)}</code>, {e(when)}.</p>
<h2>Summary</h2>
<table>{summary}</table>
<h2>Steps recommended</h2>
<table><tr><th>step</th><th>title</th><th>kind</th><th>category</th><th>cases</th><th>%</th></tr>
{steps}</table>
<h2>By situation</h2>
<p>For each situation, the share of its cases in which each step was recommended
(a case with several situations counts for each).</p>
<figure>{chart or "<p>No case was evaluated.</p>"}</figure>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
