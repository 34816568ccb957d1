"""`dispute-guide batch` through the real command: JSONL and CSV, order, exit codes, jobs,
progress, summary and report. Expected answers come from the engine rendered as the single
endpoint renders them (and a sample goes through the single endpoint itself).

The 10,000-case runs skip the follow-up questions (--no-questions): they cost four fifths
of the time, and the 1,000-case runs check them in full."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from service.batch import MAX_LINE_BYTES
from tests.support.batch import (
    assert_same,
    expected_answers,
    expected_lines,
    json_lines,
    jsonl_answers_from,
)
from tests.support.cases import COLUMNS, batch_cases, csv_row

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("dispute-guide")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "service.cli"]
COUNT = 10_000


pytestmark = pytest.mark.usefixtures("no_cyclic_gc")


# --- the corpus: 10,000 cases and a few bad lines, as JSONL and as CSV -----------------


@dataclass
class Corpus:
    folder: Path
    cases: list[dict]
    small_cases: list[dict]
    jsonl: Path = None
    csv: Path = None
    small: Path = None  # the first 1,000 cases, all good
    mixed: Path = None  # the lines of `jsonl` up to its 1,000th case: one bad, one blank
    jsonl_bad: dict = field(default_factory=dict)  # line number: field named in the report
    jsonl_good: list = field(default_factory=list)  # the line number of each case
    csv_bad: dict = field(default_factory=dict)


JSONL_BAD = {  # after which good case (index), what bad line, the field reported
    0: (b"this is not json", "$"),
    1234: (b'{"situations": []}', "situations"),
    5000: (b'{"situations": ["conflict"], "client": {"silent_days": -1}}', "client.silent_days"),
    7777: (b'{"situations": ["conflict"], "colour": "red"}', "colour"),
    9998: (b'{"situations": ["conflict"], "case_id": "' + b"x" * MAX_LINE_BYTES + b'"}', "$"),
}
CSV_BAD = {  # after which good case (index), the bad cells {column: text}, the field reported
    3: ({"contract": "maybe"}, "contract"),
    2500: ({"client.silent_days": "five"}, "client.silent_days"),
    6000: ({"stage": "later"}, "stage"),
    8000: ({"situations": ""}, "situations"),
    9000: (None, "$"),  # a row with one cell too many
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    folder = tmp_path_factory.mktemp("batch")
    cases = batch_cases(COUNT)
    corpus = Corpus(
        folder,
        cases,
        cases[:1000],
        folder / "cases.jsonl",
        folder / "cases.csv",
        folder / "small.jsonl",
        folder / "mixed.jsonl",
    )

    lines: list[bytes] = []
    for index, case in enumerate(cases):
        lines.append(json.dumps(case, ensure_ascii=False).encode())
        corpus.jsonl_good.append(len(lines))
        if index == 100:
            lines.append(b"   ")  # a blank line: skipped, not an error
        if index in JSONL_BAD:
            text, name = JSONL_BAD[index]
            lines.append(text)
            corpus.jsonl_bad[len(lines)] = name
    corpus.jsonl.write_bytes(b"\n".join(lines) + b"\n")
    corpus.small.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in corpus.small_cases))
    corpus.mixed.write_bytes(b"".join(line + b"\n" for line in lines[: corpus.jsonl_good[999]]))

    with corpus.csv.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        line = 1
        for index, case in enumerate(cases):
            writer.writerow(csv_row(case, upper=index % 3 == 0))
            line += 1
            if index in CSV_BAD:
                cells, name = CSV_BAD[index]
                row = csv_row(cases[0])
                if cells is None:
                    row.append("extra")
                else:
                    for column, text in cells.items():
                        row[COLUMNS.index(column)] = text
                writer.writerow(row)
                line += 1
                corpus.csv_bad[line] = name
    return corpus


@pytest.fixture(scope="module")
def expected(state, corpus) -> list[dict]:
    return expected_answers(state, corpus.cases, questions=False)


def batch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "batch", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=300
    )


def reported(stderr: bytes) -> dict[int, str]:
    """{line number: field} from the `line N: <field>: <problem>` lines of stderr."""
    found = {}
    for match in re.finditer(rb"^line (\d+): ([^:]+): .+$", stderr, re.MULTILINE):
        found.setdefault(int(match[1]), match[2].decode())
    return found


@pytest.fixture(scope="module")
def jsonl_run(corpus):
    out = corpus.folder / "out-jobs2.jsonl"
    return batch(str(corpus.jsonl), "-o", str(out), "--jobs", "2", "--no-questions"), out


@pytest.fixture(scope="module")
def csv_run(corpus):
    out = corpus.folder / "from-csv.jsonl"
    return batch(str(corpus.csv), "-o", str(out), "--jobs", "2", "--no-questions"), out


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_batch_answers_every_case_as_the_single_endpoint_in_order(state, corpus, jsonl_run):
    proc, out = jsonl_run
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    assert_same(json_lines(out.read_bytes()), expected_lines(state, corpus.cases, questions=False))


def test_jsonl_batch_reports_each_bad_line_with_its_number_and_field(corpus, jsonl_run):
    proc, _ = jsonl_run
    assert reported(proc.stderr) == corpus.jsonl_bad
    assert f"line {min(corpus.jsonl_bad)}: $: Malformed JSON".encode() in proc.stderr


def test_jobs_2_output_is_identical_to_jobs_1(corpus, jsonl_run):
    proc2, out2 = jsonl_run
    out1 = corpus.folder / "out-jobs1.jsonl"
    proc1 = batch(str(corpus.jsonl), "-o", str(out1), "--jobs", "1", "--no-questions")
    assert proc1.returncode == proc2.returncode == 1
    assert out1.read_bytes() == out2.read_bytes()
    assert reported(proc1.stderr) == reported(proc2.stderr)


def test_summary_table_counts_cases_errors_and_top_steps(corpus, jsonl_run, expected):
    proc, _ = jsonl_run
    text = proc.stderr.decode()
    rows = dict(re.findall(r"^(cases|evaluated|skipped)\s+([\d,]+)$", text, re.MULTILINE))
    bad = len(corpus.jsonl_bad)
    assert rows == {"cases": f"{COUNT + bad:,}", "evaluated": f"{COUNT:,}", "skipped": str(bad)}
    counts = Counter(step["id"] for answer in expected for step in answer["steps"])
    top = re.findall(r"^([a-z-]+)\s+([\d,]+)\s+[\d.]+$", text.split("top steps")[1], re.MULTILINE)
    assert len(top) == 10
    assert [int(n.replace(",", "")) for _, n in top] == sorted(counts.values(), reverse=True)[:10]
    assert all(counts[step] == int(n.replace(",", "")) for step, n in top)


def test_no_progress_bar_when_stderr_is_not_a_terminal(jsonl_run):
    proc, _ = jsonl_run
    assert b"\r" not in proc.stderr and b"\x1b[" not in proc.stderr


# --- CSV -----------------------------------------------------------------------------------


def test_csv_batch_converts_cells_to_the_facts_types_and_answers_as_the_api(state, corpus, csv_run):
    proc, out = csv_run
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    assert_same(json_lines(out.read_bytes()), expected_lines(state, corpus.cases, questions=False))


def test_csv_batch_reports_each_bad_row_with_its_line_and_column(corpus, csv_run):
    proc, _ = csv_run
    assert reported(proc.stderr) == corpus.csv_bad
    text = proc.stderr.decode()
    assert "contract: Not a valid boolean: expected true or false." in text
    assert "client.silent_days: Not a valid integer." in text
    assert f"{len(COLUMNS) + 1} cells where the header has {len(COLUMNS)}" in text


def test_csv_from_a_spreadsheet_bom_blank_rows_and_unnamed_columns(state):
    case = {
        "case_id": "s1",
        "situations": ["non_payment", "conflict"],
        "contract": True,
        "client": {"silent_days": 12},
    }
    text = (
        "\ufeffcase_id,situations,contract,client.silent_days,\r\n"
        "s1, non_payment ; conflict ,True,12,\r\n"
        ",,,,\r\n"
    )
    proc = batch("-", "--format", "csv", "--jobs", "1", stdin=text.encode())
    assert proc.returncode == 0, proc.stderr.decode()
    assert jsonl_answers_from(proc.stdout) == expected_answers(state, [case])


def test_csv_bad_lines_are_reported_by_the_line_their_record_starts_on():
    data = (
        b"case_id,situations,stage\n"  # 1
        b'"two\nlines",conflict,\n'  # 2-3: one record
        b"bad,conflict,\xff\n"  # 4: not UTF-8
        b"long," + b"x" * MAX_LINE_BYTES + b"\n"  # 5
        b"ok,non_payment,delivered\n"  # 6
        b"later,conflict,later\n"  # 7: not a stage
        b'"open,conflict\n'
    )  # 8: a quote never closed
    proc = batch("-", "--format", "csv", "--jobs", "2", stdin=data)
    assert proc.returncode == 1
    assert reported(proc.stderr) == {4: "$", 5: "$", 7: "stage", 8: "$"}
    assert b"line 4: $: not valid UTF-8 (byte 14)" in proc.stderr
    assert [a["case_id"] for a in jsonl_answers_from(proc.stdout)] == ["two\nlines", "ok"]


def test_csv_whose_header_line_is_broken_is_unusable():
    proc = batch("-", "--format", "csv", stdin=b"case_id,situ\xffations\nx,conflict\n")
    assert proc.returncode == 2
    assert b"line 1: the header: not valid UTF-8" in proc.stderr


# --- arguments, streams, exit codes ----------------------------------------------------------


def test_all_good_lines_exit_0_and_stdin_to_stdout_works(state, corpus):
    data = corpus.small.read_bytes()
    proc = batch("-", "-o", "-", "--jobs", "2", "--lang", "ru", stdin=data)
    assert proc.returncode == 0, proc.stderr.decode()
    assert_same(json_lines(proc.stdout), expected_lines(state, corpus.small_cases, "ru"))


def test_each_line_is_byte_for_byte_the_single_endpoints_body(client, corpus):
    sample = corpus.small_cases[:200]
    proc = batch(
        "-",
        "--format",
        "jsonl",
        "--jobs",
        "1",
        stdin=b"".join(json.dumps(c).encode() + b"\n" for c in sample),
    )
    assert proc.returncode == 0
    for case, line in zip(sample, json_lines(proc.stdout), strict=True):
        response = client.post("/v1/guidance", json=case)
        assert response.status_code == 200
        assert line + b"\n" == response.get_data()  # byte for byte


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["{small}", "-o", "out.txt"], "cannot tell the format"),
        (["{folder}/cases.tsv"], "cannot tell the format"),
        (["{small}", "--format", "xml"], "invalid choice"),
        (["{small}", "--jobs", "0"], "must be 1 or more"),
        (["{small}", "--rules", "{folder}/no-rules"], "not a folder"),
        (["{small}", "-o", "{folder}/no/such/out.jsonl"], "No such file or directory"),
        (["{small}", "--report", "{folder}/no/such/report.html"], "its folder does not exist"),
        (["{small}", "-o", "{small}"], "would overwrite the input"),
        (["{unknown_column}"], "unknown column(s) colour"),
        (["{no_situations}"], "the header has no situations column"),
    ],
)
def test_unusable_arguments_exit_2(corpus, args, message):
    (corpus.folder / "cases.tsv").write_text("x\n")
    (corpus.folder / "unknown.csv").write_text("case_id,situations,colour\na,conflict,red\n")
    (corpus.folder / "nosit.csv").write_text("case_id,contract\na,true\n")
    names = {
        "small": corpus.small,
        "folder": corpus.folder,
        "unknown_column": corpus.folder / "unknown.csv",
        "no_situations": corpus.folder / "nosit.csv",
    }
    before = corpus.small.read_bytes()
    proc = batch(*(a.format(**names) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr.decode()
    assert corpus.small.read_bytes() == before


# --- progress and report -----------------------------------------------------------------------


def test_progress_bar_is_drawn_when_stderr_is_a_terminal(corpus, tmp_path):
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "batch", str(corpus.small), "-o", str(tmp_path / "o.jsonl")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        cwd=ROOT,
    )
    os.close(secondary)
    received = bytearray()
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the command has closed its end
            break
        if not data:
            break
        received += data
    os.close(primary)
    assert proc.wait(timeout=60) == 0
    text = received.decode()
    assert re.search(r"\r\[#{30}\] 100%\s+1,000 cases, [\d,]+ cases/s", text), text
    assert "evaluated" in text  # the summary follows the bar


@pytest.fixture(scope="module")
def report_run(corpus):
    out, report = corpus.folder / "mixed.csv", corpus.folder / "report.html"
    return batch(str(corpus.mixed), "-o", str(out), "--report", str(report)), out, report


def test_csv_output_has_one_row_per_case_with_the_step_ids_joined(state, corpus, report_run):
    proc, out, _ = report_run
    assert proc.returncode == 1, proc.stderr.decode()
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["line"]) for row in rows] == corpus.jsonl_good[:1000]
    for row, answer in zip(rows, expected_answers(state, corpus.small_cases), strict=True):
        assert row["case_id"] == (answer["case_id"] or "")
        assert row["steps"] == ";".join(step["id"] for step in answer["steps"])
        assert row["questions"] == ";".join(q["field"] for q in answer["questions"])
        assert row["ruleset_version"] == answer["ruleset_version"]


def test_report_is_a_self_contained_html_page_with_the_chart(corpus, report_run):
    _, _, report = report_run
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 1 and "</svg>" in page
    # Nothing fetched at view time: no scripts, stylesheets, images or fonts by address.
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\((?!#)|src=", page)
    assert not re.search(r'href="https?:', page)
    situations = {s for case in corpus.small_cases for s in case["situations"]}
    for situation in situations:  # one panel per situation, titled with its case count
        cases = sum(situation in case["situations"] for case in corpus.small_cases)
        assert f"{situation}: " in page and f"({cases:,} cases)" in page
    assert "<th>cases</th><td class=n>1,001</td>" in page
    assert "<th>skipped</th><td class=n>1</td>" in page
    assert "<code>treat-client-seriously</code>" in page
