"""Load and memory: the service under gunicorn beside a bare Flask JSON endpoint.

    .venv/bin/python bench/load.py [--requests 50000] [--concurrency 32] [--workers 2]
                                   [--rounds 1] [--json FILE]

Needs wrk (Debian: `apt-get install wrk`). In one run, for each round, and for each target
in turn (the service, then the bare app of bench/bare_app.py), it:

1. starts gunicorn with the repo's gunicorn.conf.py and `--workers N` (threads, timeouts,
   preload: as configured), serving `service:create_app()` or `bench.bare_app:app`;
   `--max-requests 0` for both: the config recycles a worker after 20,000±2,000 requests,
   which would replace the very processes whose memory is measured (and hide a leak);
2. sends a warm-up of --warmup requests, then reads each worker's RSS (/proc/PID/status);
3. sends --requests requests at --concurrency connections (wrk, keep-alive), cycling over
   --cases generated cases (seeded, every situation, half the other facts known);
4. reads each worker's RSS again, and checks that the workers are the same processes.

The bare app answers each case with the very JSON the service answered for it (checked:
same bytes), parsing the request and serializing the answer per request, so the ratio of
throughputs is the service's share of the framework's own ceiling under the same config.

It prints a table (requests, errors, throughput, p50/p99 latency, RSS per worker before
and after) and the ratio, and exits 1 when a request failed, a worker was replaced or grew
by more than --max-growth-mb, or the ratio is below --min-ratio. Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.support import cases as generator
from tests.support.server import ROOT, Server, children

LUA = ROOT / "bench" / "wrk" / "guidance.lua"
TARGETS = {"service": "service:create_app()", "bare": "bench.bare_app:app"}


def generate(count: int, seed: int) -> list[dict]:
    """The tests' generator: every situation leading in turn, half the other facts known."""
    return generator.generate(count, seed, ids="load-{}", situations="each")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0])
    return fields


class Gunicorn(Server):
    """gunicorn serving `app` with `workers` workers that are never recycled; started."""

    def __init__(self, app: str, workers: int, env: dict):
        super().__init__(
            env=env, workers=workers, threads=None, app=app, args=["--max-requests", "0"]
        )
        self.args[:0] = ["--workers", str(workers)]
        self.worker_count = workers
        self.start(timeout=60)
        self.pids = sorted(self.workers())  # the workers measured

    def post(self, body: bytes, query: str = "") -> bytes:
        request = urllib.request.Request(
            self.url + "/v1/guidance" + query,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()


def wrk(
    url: str, cases_file: str, total: int, concurrency: int, threads: int, query: str = ""
) -> dict:
    """`total` requests by wrk; the duration from its threads' own start and stop times."""
    markers = Path(tempfile.mkdtemp(prefix="load-wrk-"))
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(concurrency),
        "-d",
        "3600s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url + "/v1/guidance" + query,
        "--",
        cases_file,
        str(total),
        str(threads),
        str(markers),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while len(list(markers.iterdir())) < threads:
            if proc.poll() is not None:
                raise RuntimeError(f"wrk stopped early: {proc.stderr.read()}")
            time.sleep(0.01)
        time.sleep(0.05)  # the files are written before the threads stop
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    times = [[int(t) for t in f.read_text().split()] for f in markers.iterdir()]
    shutil.rmtree(markers)
    result = json.loads(out.strip().splitlines()[-1])
    result["duration_us"] = (max(t[1] for t in times) - min(t[0] for t in times)) / 1000
    return result


# Where a sampled stack's time goes: the innermost frame that matches, leaf first.
CATEGORIES = [
    ("engine: durable_rules calls", ("Engine.fire (",)),
    ("engine: follow-up questions", ("service/questions.py", "<condition")),
    ("engine: the rest of the adapter", ("service/engine.py",)),
    ("case validation (marshmallow)", ("marshmallow/", "service/api.py:validate_case")),
    ("request JSON parsing", ("service/jsonio.py", "json/decoder.py")),
    ("answer rendering", ("render_guidance",)),
    ("answer JSON encoding", ("json/encoder.py", "flask/json/")),
    ("log line per request", ("logging/",)),
    ("metrics", ("prometheus_client/", "Metrics.evaluated")),
    (
        "request id, timing, security headers",
        ("service/observability.py", "uuid", "service/security.py"),
    ),
    ("the view and the rest of the service", ("service/",)),
    ("Flask and Werkzeug", ("flask/", "werkzeug/")),
    (
        "gunicorn: HTTP parsing, sockets, threads",
        ("gunicorn/", "selectors.py", "socket.py", "concurrent/futures", "threading.py"),
    ),
]


def categorize(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def profile(server: Gunicorn, args, cases_file: str) -> dict:
    """py-spy (GIL holder only: CPU, not waiting) on every worker under the same load."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return {}
    out = Path(tempfile.mkdtemp(prefix="load-profile-"))
    seconds = str(args.profile)
    load = subprocess.Popen(
        [
            "wrk",
            "-t",
            str(args.wrk_threads),
            "-c",
            str(args.concurrency),
            "-d",
            seconds,
            "-s",
            str(LUA),
            server.url + "/v1/guidance" + args.query,
            "--",
            cases_file,
            "1000000000",
            str(args.wrk_threads),
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spies = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                seconds,
                "--rate",
                "200",
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out / f"{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in server.pids
    ]
    for process in spies + [load]:
        process.wait()
    counts: dict = {}
    for file in out.glob("*.txt"):
        for line in file.read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            if samples.isdigit():
                category = categorize(stack)
                counts[category] = counts.get(category, 0) + int(samples)
    shutil.rmtree(out)
    total = sum(counts.values()) or 1
    return {
        name: round(100 * n / total, 1)
        for name, n in sorted(counts.items(), key=lambda item: -item[1])
    }


def run_target(name: str, args, cases_file: str, env: dict) -> dict:
    server = Gunicorn(TARGETS[name], args.workers, env)
    try:
        start = {pid: memory_kb(pid) for pid in server.pids}
        wrk(server.url, cases_file, args.warmup, args.concurrency, args.wrk_threads, args.query)
        before = {pid: memory_kb(pid) for pid in server.pids}
        cpu = cpu_seconds(server.pids)
        result = wrk(
            server.url, cases_file, args.requests, args.concurrency, args.wrk_threads, args.query
        )
        cpu = cpu_seconds(server.pids) - cpu
        after = {pid: memory_kb(pid) for pid in server.pids}
        result["cpu_ms_per_request"] = cpu * 1000 / result["answers"]
        if args.profile and name == "service":
            result["profile"] = profile(server, args, cases_file)
        result["replaced_workers"] = sorted(children(server.proc.pid)) != server.pids
        result["workers"] = [
            {
                "pid": pid,
                "start_kb": start[pid]["VmRSS"],
                "before_kb": before[pid]["VmRSS"],
                "after_kb": after[pid]["VmRSS"],
                "anon_before_kb": before[pid]["RssAnon"],
                "anon_after_kb": after[pid]["RssAnon"],
            }
            for pid in server.pids
        ]
    finally:
        server.stop()
    seconds = result["duration_us"] / 1e6
    result["name"] = name
    result["throughput"] = result["answers"] / seconds
    result["failed"] = (
        result["non_200"]
        + sum(result["errors"].values())
        + max(0, args.requests - result["answers"])
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--cases", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("DISPUTE_GUIDE_LOG_LEVEL", "info"),
        help="the service's log level (default: the service's default, info: "
        "one JSON line per request)",
    )
    parser.add_argument(
        "--query",
        default="",
        help="appended to the path, e.g. ?questions=false (default: none, so "
        "the answers carry the follow-up questions)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="after the measured run, sample the service's workers with "
        "py-spy for this long under the same load, and print where the "
        "CPU time goes",
    )
    parser.add_argument("--max-growth-mb", type=float, default=5.0)
    parser.add_argument("--min-ratio", type=float, default=0.8)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="load-"))
    cases = generate(args.cases, args.seed)
    cases_file = work / "cases.jsonl"
    cases_file.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )
    env = {"DISPUTE_GUIDE_LOG_LEVEL": args.log_level, "DISPUTE_GUIDE_WORKERS": str(args.workers)}

    # The service's answers, which the bare app will give back for the same requests.
    probe = Gunicorn(TARGETS["service"], 1, env)
    try:
        answers = {
            c["case_id"]: json.loads(probe.post(json.dumps(c).encode(), args.query)) for c in cases
        }
    finally:
        probe.stop()
    answers_file = work / "answers.json"
    answers_file.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    env["BARE_APP_ANSWERS"] = str(answers_file)
    bare = Gunicorn(TARGETS["bare"], 1, env)
    try:
        for case in cases[:8]:
            body = json.dumps(case).encode()
            assert (
                bare.post(body)
                == json.dumps(
                    answers[case["case_id"]], ensure_ascii=False, separators=(",", ":")
                ).encode()
                + b"\n"
            )
    finally:
        bare.stop()
    sizes = [
        len(json.dumps(a, ensure_ascii=False, separators=(",", ":")).encode())
        for a in answers.values()
    ]

    results = []
    for _ in range(args.rounds):
        for name in TARGETS:
            results.append(run_target(name, args, str(cases_file), env))
            print_row(results[-1], args)
    shutil.rmtree(work)

    # The best round of each: on a shared machine a round is only ever slowed down by
    # others' work, never sped up, so the fastest is the least disturbed.
    service = max(r["throughput"] for r in results if r["name"] == "service")
    bare_tp = max(r["throughput"] for r in results if r["name"] == "bare")
    ratio = service / bare_tp
    growth = max(
        (w["after_kb"] - w["before_kb"]) / 1024
        for r in results
        if r["name"] == "service"
        for w in r["workers"]
    )
    print(
        f"\nanswer size: median {statistics.median(sizes):.0f} B (min {min(sizes)}, "
        f"max {max(sizes)}); {args.cases} cases; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} cores; service log level {args.log_level}"
    )
    print(f"service / bare throughput, best rounds: {ratio:.2f} (target >= {args.min_ratio})")
    cpu = {
        name: min(r["cpu_ms_per_request"] for r in results if r["name"] == name) for name in TARGETS
    }
    print(
        f"worker CPU per request: service {cpu['service']:.3f} ms, bare {cpu['bare']:.3f} ms "
        f"(bare / service {cpu['bare'] / cpu['service']:.2f})"
    )
    for r in results:
        if r.get("profile"):
            print("\nwhere the service's CPU time goes (py-spy, GIL holder):")
            for category, share in r["profile"].items():
                print(f"  {share:5.1f}%  {category}")
    print(
        f"largest worker RSS growth over {args.requests} requests: {growth:+.2f} MB "
        f"(limit {args.max_growth_mb} MB)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "results": results,
                    "ratio": ratio,
                    "max_growth_mb": growth,
                    "answer_bytes_median": statistics.median(sizes),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    failed = any(r["failed"] or r["replaced_workers"] for r in results)
    return 1 if failed or growth > args.max_growth_mb or ratio < args.min_ratio else 0


def print_row(r: dict, args) -> None:
    latency = r["latency_us"]
    workers = "; ".join(
        f"{w['before_kb'] / 1024:.1f}->{w['after_kb'] / 1024:.1f} MB "
        f"({(w['after_kb'] - w['before_kb']) / 1024:+.2f})"
        for w in r["workers"]
    )
    print(
        f"{r['name']:8} {r['answers']:>6} answers  failed {r['failed']}  "
        f"{r['throughput']:8.0f} req/s  cpu {r['cpu_ms_per_request']:.3f} ms/req  p50 {latency['p50'] / 1000:6.2f} ms  "  # noqa: E501
        f"p99 {latency['p99'] / 1000:6.2f} ms  RSS {workers}"
        f"{'  WORKERS REPLACED' if r['replaced_workers'] else ''}"
        f"{'  non-200: ' + json.dumps(r['statuses']) if r.get('statuses') else ''}",
        flush=True,
    )
    if r.get("first_bad"):
        print(f"         first non-200 answer: {r['first_bad'][:200]}")


if __name__ == "__main__":
    sys.exit(main())
