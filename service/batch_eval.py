"""Evaluating a batch's records, in a worker process or in-process: exactly as the API does.

The same `Evaluator` serves `--jobs` worker processes, `--jobs 1`, and the Dask workers of
a cluster run, so every way of running a batch gives the same answers, byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from schemas.case import nest
from service import jsonio
from service.batch_input import LineProblem, Unusable
from service.core import (
    DEFAULT_MESSAGES,
    DEFAULT_QUESTIONS,
    Loaded,
    load,
    render_guidance,
    validated,
)
from service.encoding import dumps_line
from service.exceptions import DisputeGuideError
from service.problems import ApiError, MalformedJson
from service.rulebook import RulesError

LIST_SEPARATOR = ";"
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")


class Outcome(NamedTuple):
    line: int
    text: Any  # the output: a line of text (JSONL, CSV) or a row (Parquet); None if skipped
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
    most: int | None = DEFAULT_QUESTIONS  # the questions listed (None: all), as the API does
    # The phases whose messages are composed; None: as the API by default in JSONL, and no
    # messages column in CSV and Parquet.
    messages: tuple | None = None

    @property
    def message_column(self) -> bool:
        return self.output_format != "jsonl" and bool(self.messages)


def load_state(rules: str | None) -> Loaded:
    """The rules compiled; an unusable folder is `Unusable`. `rules` is the folder itself
    (the command line has already looked at DISPUTE_GUIDE_RULES_DIR: service.core.rules_folder)."""
    if rules and not Path(rules).is_dir():
        raise Unusable(f"--rules {rules}: not a folder")
    try:
        return load(rules or None)
    except RulesError as error:
        raise Unusable(f"the rules cannot be loaded:\n{error}") from None


class CellError(DisputeGuideError, ValueError):
    pass


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# A JSONL record is one line: the parser's own line number (always 1) would only confuse.
_JSON_POSITION = re.compile(r"\bat line 1, column (\d+)")


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


def without_nulls(row: dict) -> dict:
    """A Parquet row without its nulls (a null is an unknown fact, as in JSON), nested too."""
    case = {}
    for name, value in row.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
        if value is not None:
            case[name] = value
    return case


def _internal(error: Exception) -> LineProblem:
    return LineProblem("$", f"internal error: {type(error).__name__}: {error}")


class Evaluator:
    """Turns raw records into output, exactly as the API renders each case."""

    def __init__(self, job: Job, state=None):
        self.job = job
        self.state = state or load_state(job.rules)
        if job.columns is not None:
            facts = self.state.rulebook.facts
            self.converters = [
                None if name is None else str if name == "case_id" else _converter(facts[name])
                for name in job.columns
            ]
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, chunk: list) -> list[Outcome]:
        return [self.one(number, raw) for number, raw in chunk]

    def one(self, number: int, raw: Any) -> Outcome:
        problems, case, guidance = self.judge(raw)
        if problems or case is None:
            return Outcome(number, None, problems=problems)
        try:
            return self.render(number, case, guidance)
        except Exception as error:  # a bug: this line is reported, the run goes on
            return Outcome(number, None, problems=(_internal(error),))

    def judge(self, raw: Any) -> tuple[tuple, dict | None, Any]:
        """(problems, the validated case, its Guidance): problems, or the other two."""
        if isinstance(raw, LineProblem):
            return (raw,), None, None
        try:
            problems: list[LineProblem] = []
            try:
                case, facts = validated(self.state, self.parse(raw, problems))
            except ApiError as error:  # not JSON, or not a valid case
                if isinstance(error, MalformedJson):
                    error.detail = _JSON_POSITION.sub(r"at column \1", error.detail)
                problems += [
                    LineProblem(field, message)
                    for field, messages in (error.errors or {"$": [error.detail]}).items()
                    for message in messages
                ]
            if problems:
                return tuple(problems), None, None
            return (), case, self.state.engine.evaluate(case, self.job.questions, facts)
        except Exception as error:  # a bug: this line is reported, the run goes on
            return (_internal(error),), None, None

    def parse(self, raw: Any, problems: list) -> Any:
        """The case as JSON would give it; a cell that cannot be converted adds a problem."""
        if self.job.input_format == "jsonl":
            return jsonio.loads(raw)
        if self.job.input_format == "parquet":
            return without_nulls(raw)
        columns = self.job.columns
        if columns is None:
            raise TypeError("a CSV job names its columns")
        if len(raw) != len(columns):
            raise ApiError(f"{len(raw)} cells where the header has {len(columns)}")
        flat = {}
        for name, convert, cell in zip(columns, self.converters, raw, strict=True):
            cell = cell.strip()
            if convert is None or not cell:  # an unnamed column, or an unknown fact
                continue
            try:
                flat[name] = convert(cell)
            except CellError as error:
                problems.append(LineProblem(name, str(error)))
        return nest(flat)

    def render(self, number: int, case: dict, guidance) -> Outcome:
        steps = tuple(advice.step.id for advice in guidance.steps)
        situations = tuple(case["situations"])
        job = self.job
        if job.output_format == "jsonl":
            messages = DEFAULT_MESSAGES if job.messages is None else job.messages
            return Outcome(
                number,
                dumps_line(render_guidance(guidance, job.lang, job.most, messages)),
                steps,
                situations,
            )
        questions = (
            None
            if guidance.questions is None
            else [q.fact.name for q in guidance.questions[: job.most]]
        )
        row = [number, guidance.case_id, list(steps), questions, guidance.ruleset_version]
        if job.message_column:  # the messages as the API's JSON list, in one cell
            body = render_guidance(guidance, job.lang, 0, job.messages or ())
            row.append(json.dumps(body.get("messages", []), ensure_ascii=False))
        if job.output_format == "parquet":  # questions are null when not asked for
            return Outcome(number, tuple(row), steps, situations)
        row[1:4] = [
            guidance.case_id or "",
            LIST_SEPARATOR.join(steps),
            LIST_SEPARATOR.join(questions or ()),
        ]
        return Outcome(number, self.csv_line(row), steps, situations)

    def csv_line(self, row: list) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(row)
        return self._buffer.getvalue()
