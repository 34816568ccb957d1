"""`dispute-guide batch` on one machine when things go wrong, and its newer formats:
a worker or the main process killed mid-run, the wall time, one line number per error,
a missing optional extra named with its install command, Parquet in and out.

Parquet needs pyarrow (the `parquet` and `cluster` extras): outside CI its tests are
skipped when it is missing; under CI (CI=true) its absence fails them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.batch import arrow_schema, expected_lines, json_lines
from tests.support.cases import batch_cases

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("dispute-guide")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "service.cli"]

pytestmark = pytest.mark.usefixtures("no_cyclic_gc")


def need_pyarrow():
    if os.environ.get("CI") != "true":
        pytest.importorskip(
            "pyarrow", reason="pyarrow is not installed (pip install 'dispute-guide[parquet]')"
        )
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """Cases enough for a --jobs 2 run with questions to last several seconds."""
    path = tmp_path_factory.mktemp("robust") / "cases.jsonl"
    path.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in batch_cases(30_000)))
    return path


def children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def start_and_wait_for_workers(source: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    """A --jobs 2 run, once both workers exist and the output has begun."""
    proc = subprocess.Popen(
        [*CLI, "batch", str(source), "-o", str(out), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = children(proc.pid)
        partial = list(out.parent.glob(f".{out.name}.*.partial"))
        if len(workers) == 2 and partial and partial[0].stat().st_size > 0:
            return proc, workers
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the run did not get going, or ended before the test could act")


def test_a_killed_worker_fails_the_run_at_once_with_exit_2_and_no_output(big, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("the previous run's output\n")
    proc, workers = start_and_wait_for_workers(big, out)
    os.kill(workers[0], signal.SIGKILL)
    killed = time.monotonic()
    try:
        _, stderr = proc.communicate(timeout=60)  # a hang fails here
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert time.monotonic() - killed < 30
    assert proc.returncode == 2, stderr.decode()[-2000:]
    assert b"a worker process died (killed by signal 9 (SIGKILL))" in stderr
    assert b"no output file was written" in stderr
    assert out.read_text() == "the previous run's output\n"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left
    assert not any(alive(pid) for pid in workers)


def test_a_killed_main_process_leaves_no_output_and_no_worker(big, tmp_path):
    out = tmp_path / "out.jsonl"
    proc, workers = start_and_wait_for_workers(big, out)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stderr.close()
    assert not out.exists()
    # What is left is hidden and says it is partial: nobody takes it for the output.
    assert [p.name for p in tmp_path.iterdir()] == [
        p.name for p in tmp_path.glob(".out.jsonl.*.partial")
    ]
    deadline = time.monotonic() + 10  # the kernel kills the workers with their parent
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.01)
    assert not any(alive(pid) for pid in workers)


def test_a_good_run_renames_its_output_into_place(big, tmp_path):
    source = tmp_path / "some.jsonl"
    with big.open("rb") as f:
        source.write_bytes(f.readline())
    out = tmp_path / "out.jsonl"
    umask = os.umask(0o022)
    os.umask(umask)
    proc = subprocess.run(
        [*CLI, "batch", str(source), "-o", str(out), "--jobs", "1"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "some.jsonl"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() creates a file


def test_the_summary_gives_the_wall_time_of_the_command(tmp_path):
    source = tmp_path / "cases.jsonl"
    source.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in batch_cases(2000)))
    started = time.monotonic()
    proc = subprocess.run(
        [*CLI, "batch", str(source), "-o", str(tmp_path / "o.jsonl"), "--jobs", "2"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    measured = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr.decode()
    reported = float(re.search(rb"^wall time\s+([\d.]+) s$", proc.stderr, re.MULTILINE)[1])
    # From the start of the process to the summary: all but the exit.
    assert measured * 0.6 <= reported <= measured + 0.05, (reported, measured)
    rate = int(re.search(rb"^cases/s\s+([\d,]+)$", proc.stderr, re.MULTILINE)[1].replace(b",", b""))
    assert abs(rate - 2000 / reported) <= 2000 / reported * 0.05 + 1


def test_a_broken_json_line_is_reported_with_one_line_number():
    data = b'{"situations": ["conflict"]}\n\n{"situations": ["conflict"], "stage": }\n'
    proc = subprocess.run(
        [*CLI, "batch", "-", "--jobs", "1"], input=data, capture_output=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.decode().splitlines() if line.startswith("line ")]
    assert lines == ["line 3: $: Malformed JSON at column 39: Expecting value."]


MISSING = """import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from service.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    "missing, args, command",
    [
        ("matplotlib", ["--report", "{tmp}/r.html"], "pip install 'dispute-guide[report]'"),
        ("pyarrow", ["-o", "{tmp}/o.parquet"], "pip install 'dispute-guide[parquet]'"),
        (
            "dask,distributed",
            ["-o", "{tmp}/parts", "--cluster", "local:1"],
            "pip install 'dispute-guide[cluster]'",
        ),
    ],
)
def test_a_missing_extra_is_named_with_its_install_command(tmp_path, missing, args, command):
    source = tmp_path / "cases.jsonl"
    source.write_text('{"situations": ["conflict"]}\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            MISSING,
            missing,
            "batch",
            str(source),
            *(a.format(tmp=tmp_path) for a in args),
        ],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr.decode()
    assert command in proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["cases.jsonl"]


def test_parquet_in_and_out_give_the_jsonl_answers(state, tmp_path):
    pa, pq = need_pyarrow()
    cases = batch_cases(3000, seed=8)
    rows = [*cases[:10], {"situations": ["conflict"], "stage": "later"}, *cases[10:]]
    source = tmp_path / "cases.parquet"
    pq.write_table(
        pa.Table.from_pylist(rows, schema=arrow_schema(state.rulebook)), source, row_group_size=700
    )
    out = tmp_path / "out.parquet"
    proc = subprocess.run(
        [*CLI, "batch", str(source), "-o", str(out), "--jobs", "2"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr.decode()
    assert b"line 11: stage: Must be one of" in proc.stderr
    jsonl = subprocess.run(
        [*CLI, "batch", str(source), "-o", "-", "--jobs", "1"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert json_lines(jsonl.stdout) == expected_lines(state, cases)
    table = pq.read_table(out)
    assert table.column_names == [
        "file",
        "line",
        "case_id",
        "steps",
        "questions",
        "ruleset_version",
    ]
    answers = [json.loads(line) for line in json_lines(jsonl.stdout)]
    got = table.to_pylist()
    assert [row["line"] for row in got] == [*range(1, 11), *range(12, 3002)]
    for row, answer in zip(got, answers, strict=True):
        assert row["file"] == str(source)
        assert row["case_id"] == answer["case_id"]
        assert row["steps"] == [step["id"] for step in answer["steps"]]
        assert row["questions"] == [q["field"] for q in answer["questions"]]
        assert row["ruleset_version"] == answer["ruleset_version"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["-", "--format", "parquet"], "Parquet is read from a file, not a stream"),
        (
            ["{tmp}/cases.jsonl", "-o", "-", "--output-format", "parquet"],
            "Parquet output goes to a file, not to stdout",
        ),
        (["{tmp}/not.parquet"], "not a Parquet file"),
        (["{tmp}/colour.parquet"], "unknown column(s) colour"),
    ],
)
def test_unusable_parquet_exits_2(tmp_path, args, message):
    pa, pq = need_pyarrow()
    (tmp_path / "cases.jsonl").write_text('{"situations": ["conflict"]}\n')
    (tmp_path / "not.parquet").write_text("situations\nconflict\n")
    pq.write_table(
        pa.table({"situations": [["conflict"]], "colour": ["red"]}), tmp_path / "colour.parquet"
    )
    proc = subprocess.run(
        [*CLI, "batch", *(a.format(tmp=tmp_path) for a in args)],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        input=b"",
    )
    assert proc.returncode == 2, proc.stderr.decode()
    assert message in proc.stderr.decode()


def test_messages_go_into_a_column_of_csv_and_parquet_when_asked_for(state, tmp_path):
    pa, pq = need_pyarrow()
    from service.core import ALL_MESSAGES, render_guidance

    cases = batch_cases(50, seed=9)
    source = tmp_path / "cases.jsonl"
    source.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in cases))
    expected = [
        render_guidance(state.engine.evaluate(state.schema.load(c)), "en", 0, ALL_MESSAGES)[
            "messages"
        ]
        for c in cases
    ]
    for name in ("out.parquet", "out.csv"):
        proc = subprocess.run(
            [
                *CLI,
                "batch",
                str(source),
                "-o",
                str(tmp_path / name),
                "--messages",
                "all",
                "--jobs",
                "1",
            ],
            capture_output=True,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr.decode()
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [json.loads(row["messages"]) for row in rows] == expected
    import csv

    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        assert [json.loads(row["messages"]) for row in csv.DictReader(f)] == expected
    plain = subprocess.run(
        [*CLI, "batch", str(source), "-o", str(tmp_path / "plain.parquet")],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert plain.returncode == 0
    assert "messages" not in pq.read_table(tmp_path / "plain.parquet").column_names
