"""Evaluating cases on a Dask cluster: the rules shipped to the workers, a part of the input
evaluated by a task, and the library entry points for notebooks and pipelines.

The rules travel with the work (`Rules`: the rule files' texts and their version, a few
kilobytes), and each worker process compiles them once, into a cache keyed by the version.
A worker whose compiled ruleset version, or whose dispute-guide version, differs from the
client's refuses the work with `RulesMismatch`. The engine evaluates one case at a time per
process, so workers are best run as processes with one thread each (`--nthreads 1`).

Needs the `cluster` extra (dask, distributed, pyarrow).
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from schemas.common import DEFAULT_LANG
from service.batch_eval import Evaluator, Job, load_state, nest, without_nulls
from service.batch_input import (
    Unusable,
)
from service.core import DEFAULT_QUESTIONS, render_guidance
from service.exceptions import DisputeGuideError
from service.tally import Tally

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the extra is missing: the command line names it before coming here
    WorkerPlugin = object  # type: ignore[assignment,misc]


class RulesMismatch(DisputeGuideError):
    """A worker compiled other rules, or runs another dispute-guide, than the client."""


def code_version() -> str:
    try:
        return metadata.version("dispute-guide")
    except metadata.PackageNotFoundError:
        return "unknown"


_CODE = code_version()


@dataclass(frozen=True)
class Rules:
    """The rule files (name: text) and the version the client compiled them to."""

    files: tuple
    version: str
    code: str

    @classmethod
    def of(cls, state) -> Rules:
        folder = Path(state.rulebook.directory)
        files = tuple(
            (p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))
        )
        return cls(files, state.version, _CODE)


_compiled: dict[str, Any] = {}  # ruleset version: service.state.Loaded, in this process
_compiling = threading.Lock()


def compiled(rules: Rules):
    """The rules compiled in this process: once per process, checked against the client's."""
    if rules.code != _CODE:
        raise RulesMismatch(
            f"this worker runs dispute-guide {_CODE}, the client "
            f"{rules.code}: run the same version on both"
        )
    state = _compiled.get(rules.version)
    if state is not None:
        return state
    with _compiling:
        if rules.version in _compiled:
            return _compiled[rules.version]
        with tempfile.TemporaryDirectory(prefix="dispute-guide-rules-") as folder:
            for name, text in rules.files:
                (Path(folder) / name).write_text(text, encoding="utf-8")
            try:
                state = load_state(folder)
            except Unusable as error:
                raise RulesMismatch(
                    f"this worker cannot load the client's rules (is it another "
                    f"dispute-guide version?): {error}"
                ) from None
        if state.version != rules.version:
            raise RulesMismatch(
                f"this worker compiled the client's rules to ruleset "
                f"{state.version}, the client to {rules.version}: run the "
                "same dispute-guide version on both"
            )
        _compiled[rules.version] = state
        return state


class RulesPlugin(WorkerPlugin):
    """Compiles the rules on every worker as it joins, so that a worker that differs is
    refused before any work is given (registering the plugin raises RulesMismatch)."""

    name = "dispute-guide-rules"

    def __init__(self, rules: Rules):
        self.rules = rules

    def setup(self, worker) -> None:
        compiled(self.rules)


# --- the library entry points ----------------------------------------------------------------


def _once(rules: Rules):
    """The rules as one node of the graph, not copied into every partition's task."""
    import dask  # the cluster extra, loaded only on a cluster

    return dask.delayed(rules, pure=True)


def _rules_for(rules: str | None) -> Rules:
    return Rules.of(load_state(rules))


def evaluate_items(
    items, rules: Rules, lang: str, questions: bool, most: int | None = DEFAULT_QUESTIONS
) -> list[dict]:
    """Cases (dicts, JSON texts, or (key, case) pairs) to their results, in order."""
    state = compiled(rules)
    evaluators = {
        kind: Evaluator(Job(None, kind, None, "jsonl", lang, questions, most), state)
        for kind in ("jsonl", "parquet")
    }
    results = []
    for item in items:
        key, case = item if isinstance(item, tuple) else (None, item)
        if isinstance(case, str):
            case = case.encode("utf-8")
        parsed = isinstance(case, bytes | bytearray)
        problems, valid, guidance = evaluators["jsonl" if parsed else "parquet"].judge(case)
        result: dict = {"key": key} if key is not None else {}
        if problems or valid is None:
            case_id = case.get("case_id") if isinstance(case, dict) else None
            messages: dict = {}
            for problem in problems:
                messages.setdefault(problem.field, []).append(problem.message)
            result.update(case_id=case_id if isinstance(case_id, str) else None, problems=messages)
        else:
            result.update(
                case_id=guidance.case_id,
                situations=list(valid["situations"]),
                guidance=render_guidance(guidance, lang, most),
            )
        results.append(result)
    return results


def evaluate_bag(
    cases,
    rules: str | None = None,
    lang: str = DEFAULT_LANG,
    questions: bool = True,
    all_questions: bool = False,
):
    """A Dask bag of cases to a bag of results, in the same order and partitions.

    A case is a dict (as POST /v1/guidance takes it), a JSON text (str or bytes), or a
    `(key, case)` pair whose key is echoed as `key`. A result is `{"case_id", "situations",
    "guidance"}`, where `guidance` is exactly what POST /v1/guidance answers, or
    `{"case_id", "problems": {field: [message, ...]}}` for a case that cannot be evaluated.
    The answers list the best few questions, as the API does (`all_questions`: every one).
    """
    shipped = _rules_for(rules)
    most = None if all_questions else DEFAULT_QUESTIONS
    return cases.map_partitions(evaluate_items, _once(shipped), lang, questions, most)


def _partial_tally(results) -> Tally:
    tally = Tally()
    for result in results:
        if "guidance" in result:
            tally.add(result["situations"], (s["id"] for s in result["guidance"]["steps"]))
        else:
            tally.add_error()
    return tally


def _merge_tallies(tallies) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add_tally(tally)
    return total


def _summary(tally: Tally, rules: Rules) -> dict:
    return tally.summary(compiled(rules).rulebook)


def summarize(results, rules: str | None = None):
    """The summary of a bag of results (as the batch endpoint's), reduced on the cluster:
    a Dask delayed value; `.compute()` it."""
    shipped = _rules_for(rules)
    return results.reduction(_partial_tally, _merge_tallies).apply(partial(_summary, rules=shipped))


def _plain(value):
    """A pandas cell as JSON would give it: numpy arrays as lists, NaN and NA as None, and
    integral floats as integers (pandas turns an integer column with nulls into floats)."""
    import pandas as pd  # the cluster extra, loaded only on a cluster

    if hasattr(value, "tolist"):  # a numpy array or scalar
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if pd.isna(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _frame_cases(frame) -> list:
    """The rows of a pandas frame as cases: dotted columns nested, nulls left out."""
    return [
        without_nulls(nest({name: _plain(value) for name, value in row.items()}))
        for row in frame.to_dict("records")
    ]


FRAME_COLUMNS = ("case_id", "steps", "questions", "ruleset_version", "problems")


def _evaluate_partition(frame, rules: Rules, lang: str, questions: bool, most: int | None):
    import pandas as pd  # the cluster extra, loaded only on a cluster

    rows: list[tuple] = []
    for result in evaluate_items(_frame_cases(frame), rules, lang, questions, most):
        guidance = result.get("guidance")
        if guidance is None:
            rows.append((result["case_id"], None, None, None, json.dumps(result["problems"])))
        else:
            asked = guidance.get("questions")
            rows.append(
                (
                    guidance["case_id"],
                    [s["id"] for s in guidance["steps"]],
                    None if asked is None else [q["field"] for q in asked],
                    guidance["ruleset_version"],
                    None,
                )
            )
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS), index=frame.index, dtype=object)


def evaluate_frame(
    frame,
    rules: str | None = None,
    lang: str = DEFAULT_LANG,
    questions: bool = True,
    all_questions: bool = False,
):
    """A Dask dataframe of cases (columns `case_id` and the facts, dotted or as struct
    columns) to a dataframe of results with the same index: `case_id`, `steps`,
    `questions`, `ruleset_version`, and `problems` (JSON, for a row that cannot be
    evaluated; the others are then null)."""
    import pandas as pd  # the cluster extra, loaded only on a cluster

    shipped = _rules_for(rules)
    meta = pd.DataFrame({name: pd.Series(dtype=object) for name in FRAME_COLUMNS})
    most = None if all_questions else DEFAULT_QUESTIONS
    return frame.map_partitions(
        _evaluate_partition, _once(shipped), lang, questions, most, meta=meta
    )
