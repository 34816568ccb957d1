"""Batch runs on a Dask cluster: the same 20,000 cases, with bad lines, four ways (the local
command with --jobs 1, a 2-worker LocalCluster through --cluster tcp://..., the same with
Parquet in and out, and the library function on a Dask bag) give the same answers, bad
lines and summary; a worker killed mid-run changes nothing in the output.

The cluster extra (dask, distributed, pyarrow) is needed: outside CI these tests are skipped
when it is missing; under CI (CI=true) its absence fails them.
The 20,000-case runs skip the follow-up questions, as the other large batch tests do.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from service.batch import Tally
from tests.support.batch import arrow_schema, as_json, json_lines
from tests.support.cases import batch_cases

if os.environ.get("CI") != "true":
    for _module in ("dask", "distributed", "pyarrow"):
        pytest.importorskip(
            _module,
            reason="the cluster extra is not installed (pip install 'dispute-guide[cluster]')",
        )

import dask.bag as db  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("dispute-guide")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "service.cli"]
COUNT = 20_000
BLOCK = 200_000  # bytes of JSONL per task: about 30 tasks, so lines are numbered across blocks
ROW_GROUP = 2_000

pytestmark = pytest.mark.usefixtures("no_cyclic_gc")

# Bad cases a JSONL line and a Parquet row can both hold: after which good case, the case,
# the field reported.
BAD = {
    0: ({"situations": []}, "situations"),
    4321: ({"situations": ["conflict"], "client": {"silent_days": -1}}, "client.silent_days"),
    9999: ({"situations": ["conflict"], "stage": "later"}, "stage"),
    19_998: ({"case_id": "x" * 129, "situations": ["conflict"]}, "case_id"),
}


class Corpus:
    def __init__(self, folder: Path, state):
        self.folder = folder
        self.cases = batch_cases(COUNT, seed=15)
        self.items: list[dict] = []  # every line's case, good or bad, in order
        self.bad: dict[int, str] = {}  # line: field reported
        for index, case in enumerate(self.cases):
            self.items.append(case)
            if index in BAD:
                bad, name = BAD[index]
                self.items.append(bad)
                self.bad[len(self.items)] = name
        self.jsonl = folder / "cases.jsonl"
        self.jsonl.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in self.items))
        self.parquet = folder / "cases.parquet"
        pq.write_table(
            pa.Table.from_pylist(self.items, schema=arrow_schema(state.rulebook)),
            self.parquet,
            row_group_size=ROW_GROUP,
        )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, state) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("cluster"), state)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, one thread each, started by the test."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        Client(local) as client,
    ):
        yield local, client


def batch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "batch", *args], capture_output=True, cwd=ROOT, timeout=timeout)


def reported(stderr: bytes) -> dict[int, str]:
    """{line: field} from `[FILE: ]line N: <field>: <problem>` lines."""
    return {
        int(m[1]): m[2].decode()
        for m in re.finditer(rb"^(?:\S+: )?line (\d+): ([^:]+): .+$", stderr, re.MULTILINE)
    }


def summary_table(stderr: bytes) -> tuple:
    """The counts and the top steps of the summary table (not the time or the workers)."""
    text = stderr.decode()
    counts = re.findall(r"^(cases|evaluated|skipped)\s+([\d,]+)$", text, re.MULTILINE)
    top = text.split("top steps", 1)[1]
    return tuple(counts), top


def parts(folder: Path, suffix: str) -> list[Path]:
    found = sorted(folder.glob(f"part-*.{suffix}"))
    assert found and [p.name for p in found] == [
        f"part-{i:05d}.{suffix}" for i in range(len(found))
    ]
    assert (folder / "_SUCCESS").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file
    return found


@pytest.fixture(scope="module")
def local(corpus):
    out = corpus.folder / "local.jsonl"
    proc = batch(str(corpus.jsonl), "-o", str(out), "--jobs", "1", "--no-questions")
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    return proc, json_lines(out.read_bytes())


def expected_summary(corpus, lines: list[bytes], rulebook) -> dict:
    tally = Tally()
    good = iter(lines)
    for number, case in enumerate(corpus.items, 1):
        if number in corpus.bad:
            tally.add_error()
        else:
            answer = json.loads(next(good))
            tally.add(case["situations"], (s["id"] for s in answer["steps"]))
    return tally.summary(rulebook)


def test_the_local_run_reports_the_bad_lines(corpus, local):
    proc, lines = local
    assert reported(proc.stderr) == corpus.bad
    assert len(lines) == COUNT


def test_a_cluster_run_gives_the_local_answers_bad_lines_and_summary(corpus, cluster, local):
    local_cluster, _ = cluster
    out = corpus.folder / "out-jsonl"
    proc = batch(
        str(corpus.jsonl),
        "-o",
        str(out),
        "--cluster",
        local_cluster.scheduler_address,
        "--no-questions",
        "--block-size",
        str(BLOCK),
    )
    assert proc.returncode == 1, proc.stderr.decode()[-3000:]
    found = parts(out, "jsonl")
    assert len(found) > 10
    assert b"".join(p.read_bytes() for p in found).split(b"\n")[:-1] == local[1]
    assert reported(proc.stderr) == corpus.bad
    assert f"{corpus.jsonl}: line {min(corpus.bad)}: situations:".encode() in proc.stderr
    assert summary_table(proc.stderr) == summary_table(local[0].stderr)
    assert b"workers              2" in proc.stderr


def test_a_cluster_run_with_parquet_in_and_out_gives_the_same(corpus, cluster, local):
    local_cluster, _ = cluster
    out = corpus.folder / "out-parquet"
    proc = batch(
        str(corpus.parquet),
        "-o",
        str(out),
        "--output-format",
        "parquet",
        "--cluster",
        local_cluster.scheduler_address,
        "--no-questions",
    )
    assert proc.returncode == 1, proc.stderr.decode()[-3000:]
    found = parts(out, "parquet")
    assert len(found) == -(-len(corpus.items) // ROW_GROUP)
    rows = [row for p in found for row in pq.read_table(p).to_pylist()]
    answers = [json.loads(line) for line in local[1]]
    assert [row["line"] for row in rows] == [
        n for n in range(1, len(corpus.items) + 1) if n not in corpus.bad
    ]
    for row, answer in zip(rows, answers, strict=True):
        assert row["case_id"] == answer["case_id"]
        assert row["steps"] == [step["id"] for step in answer["steps"]]
        assert row["questions"] is None  # not asked for
        assert row["ruleset_version"] == answer["ruleset_version"]
        assert row["file"] == f"file://{corpus.parquet}"
    assert reported(proc.stderr) == corpus.bad
    assert summary_table(proc.stderr) == summary_table(local[0].stderr)


@pytest.mark.filterwarnings("ignore:Sending large graph")  # the test's 20,000 lines, in the graph
def test_the_library_function_on_a_bag_gives_the_same(corpus, cluster, local, state):
    from service.cluster import evaluate_bag, summarize

    _, client = cluster
    with open(corpus.jsonl, "rb") as f:
        numbered = list(enumerate(f.read().split(b"\n")[:-1], 1))
    cases = db.from_sequence(numbered, npartitions=16)
    results = evaluate_bag(cases, questions=False)
    # Each answer as the bytes the API would send, made on the workers (gathering 20,000
    # answers as objects costs more than evaluating them).
    lines = results.map(
        lambda r: (
            r["key"],
            as_json(r["guidance"]) if "guidance" in r else next(iter(r["problems"])),
        )
    )
    got, summary = client.compute([lines, summarize(results)], sync=True)
    assert {key: value for key, value in got if isinstance(value, str)} == corpus.bad
    assert [value for _, value in got if isinstance(value, bytes)] == local[1]
    assert summary == expected_summary(corpus, local[1], state.rulebook)


def test_the_library_function_on_a_dataframe(corpus, cluster, local):
    import dask.dataframe as dd

    from service.cluster import evaluate_frame

    _, client = cluster
    frame = dd.read_parquet(corpus.parquet, split_row_groups=True).partitions[:2]
    results = evaluate_frame(frame, questions=False)
    got = client.compute(results, sync=True)
    assert len(got) == 2 * ROW_GROUP
    answers = [json.loads(line) for line in local[1][: 2 * ROW_GROUP - 1]]
    good = got[got["problems"].isna()]
    assert list(good["steps"]) == [[s["id"] for s in a["steps"]] for a in answers]
    assert json.loads(got["problems"].iloc[1]) == {"situations": ["Shorter than minimum length 1."]}


def test_jsonl_blank_broken_and_long_lines_are_numbered_as_the_local_run(cluster, tmp_path):
    local_cluster, _ = cluster
    lines = [json.dumps(c).encode() for c in batch_cases(600, seed=3)]
    lines[10:10] = [b"", b"not json", b"   "]
    lines[300:300] = [b'{"situations": ["conflict"], "case_id": "' + b"y" * 70_000 + b'"}']
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b"\n".join(lines))  # no line break after the last line
    out = tmp_path / "local.jsonl"
    here = batch(str(source), "-o", str(out), "--jobs", "1")
    there = batch(
        str(source),
        "-o",
        str(tmp_path / "parts"),
        "--cluster",
        local_cluster.scheduler_address,
        "--block-size",
        "20000",
    )
    assert here.returncode == there.returncode == 1
    assert reported(there.stderr) == reported(here.stderr) == {12: "$", 301: "$"}
    found = parts(tmp_path / "parts", "jsonl")
    assert b"".join(p.read_bytes() for p in found) == out.read_bytes()


def test_refusals_name_what_is_wrong(corpus, cluster, tmp_path):
    local_cluster, _ = cluster
    address = local_cluster.scheduler_address
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for args, message in [
        (
            [str(corpus.jsonl), "-o", str(tmp_path / "full"), "--cluster", address],
            "exists and is not an empty folder",
        ),
        (["s3://bucket/cases/", "-o", str(tmp_path / "o"), "--cluster", address], "Install s3fs"),
        (
            [str(tmp_path / "none-*.jsonl"), "-o", str(tmp_path / "o"), "--cluster", address],
            "no input files there",
        ),
        ([str(corpus.jsonl), "-o", str(tmp_path / "o.csv"), "--cluster", address], "not CSV"),
        (
            [str(corpus.jsonl), "-o", str(tmp_path / "o"), "--cluster", "local:x"],
            "a number of workers",
        ),
    ]:
        proc = batch(*args, timeout=60)
        assert proc.returncode == 2, proc.stderr.decode()
        assert message in proc.stderr.decode()


def test_a_worker_whose_rules_differ_is_refused(cluster, state):
    from service.cluster import Rules, RulesPlugin

    _, client = cluster
    rules = Rules.of(state)
    with pytest.raises(Exception, match="compiled the client's rules to ruleset"):
        client.register_plugin(
            RulesPlugin(Rules(rules.files, "0" * 16, rules.code)), name="a-wrong-version"
        )
    with pytest.raises(Exception, match="runs dispute-guide"):
        client.register_plugin(
            RulesPlugin(Rules(rules.files, rules.version, "0.0.0")), name="a-wrong-code"
        )


def test_a_worker_killed_mid_run_leaves_every_case_exactly_once(corpus, cluster, local):
    local_cluster, client = cluster
    pids = list(client.run(os.getpid).values())
    out = corpus.folder / "out-killed"
    proc = subprocess.Popen(
        [
            *CLI,
            "batch",
            str(corpus.jsonl),
            "-o",
            str(out),
            "--cluster",
            local_cluster.scheduler_address,
            "--no-questions",
            "--block-size",
            "50000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(list(out.glob("part-*"))) >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before a worker could be killed"
    os.kill(pids[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=180)
    assert pids[0] not in client.run(os.getpid).values()  # the nanny started a new one
    assert proc.returncode == 1, stderr.decode()[-3000:]
    found = parts(out, "jsonl")
    assert b"".join(p.read_bytes() for p in found).split(b"\n")[:-1] == local[1]
    assert reported(stderr) == corpus.bad
    assert Counter(reported(stderr).values()) == Counter(corpus.bad.values())


def test_the_dask_deployment_runs_the_projects_image_with_one_thread_per_worker():
    folder = ROOT / "deploy" / "dask"
    cluster = yaml.safe_load((folder / "cluster.yaml").read_text())
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1" and cluster["kind"] == "DaskCluster"
    deployment = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text()))
    image = next(d for d in deployment if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    scheduler = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    assert worker["image"].startswith(image.split(":")[0] + "-cluster")
    assert scheduler["image"] == worker["image"]
    assert worker["args"][:2] == ["dask", "worker"]
    assert worker["args"][worker["args"].index("--nthreads") + 1] == "1"
    assert "tcp-comm" in {p["name"] for p in scheduler["ports"]}
    values = yaml.safe_load((folder / "values.yaml").read_text())
    assert values["worker"]["image"]["repository"] == worker["image"].split(":")[0]
    assert values["worker"]["threads_per_worker"] == 1
    dockerfile = (folder / "Dockerfile").read_text()
    assert re.search(rf"^FROM {re.escape(image)}$", dockerfile, re.MULTILINE)
    for package in ("dask", "distributed", "pyarrow"):
        assert package in dockerfile


def test_local_n_starts_a_cluster_for_the_run(tmp_path):
    source = tmp_path / "cases.jsonl"
    source.write_bytes(b"".join(json.dumps(c).encode() + b"\n" for c in batch_cases(300)))
    here = batch(str(source), "-o", str(tmp_path / "here.jsonl"), "--jobs", "1")
    there = batch(str(source), "-o", str(tmp_path / "parts"), "--cluster", "local:1")
    assert here.returncode == there.returncode == 0, there.stderr.decode()[-3000:]
    assert b"dashboard: http" in there.stderr
    assert b"workers              1" in there.stderr
    found = parts(tmp_path / "parts", "jsonl")
    assert b"".join(p.read_bytes() for p in found) == (tmp_path / "here.jsonl").read_bytes()


def test_a_folder_of_csv_and_jsonl_files_on_the_cluster(cluster, tmp_path):
    local_cluster, _ = cluster
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_bytes(
        b"case_id,situations,stage\n"
        b'"two\nlines",conflict,\n'
        b"bad,conflict,later\n"
        b"ok,non_payment,delivered\n"
    )
    (folder / "b.jsonl").write_bytes(b'{"situations": ["conflict"]}\nnot json\n')
    (folder / "_SUCCESS").write_bytes(b"")  # not an input
    proc = batch(
        str(folder),
        "-o",
        str(tmp_path / "parts"),
        "--cluster",
        local_cluster.scheduler_address,
        "--report",
        str(tmp_path / "report.html"),
    )
    assert proc.returncode == 1, proc.stderr.decode()[-3000:]
    assert "<th>cases</th><td class=n>5</td>" in (tmp_path / "report.html").read_text()
    assert f"{folder}/a.csv: line 4: stage: Must be one of".encode() in proc.stderr
    assert f"{folder}/b.jsonl: line 2: $: Malformed JSON at column 1".encode() in proc.stderr
    found = parts(tmp_path / "parts", "jsonl")
    answers = [json.loads(line) for p in found for line in json_lines(p.read_bytes())]
    assert [a["case_id"] for a in answers] == ["two\nlines", "ok", None]
