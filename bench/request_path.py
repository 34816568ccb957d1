"""The request path: the service against a bare Flask endpoint, in process and over HTTP.

    .venv/bin/python bench/request_path.py [--cases 300] [--rounds 5] [--breakdown] [--http]
                                           [--requests 30000]

1. **In process**, through the WSGI call alone: for each of --cases generated cases (seeded,
   as bench/load.py makes them), the time of `app(environ, start_response)` with the body
   read and the answer consumed, for the service (every feature on: validation, the
   questions, the messages, metrics, the JSON log line, the request id) and for the bare
   Flask endpoint of bench/bare_app.py, which parses the same body and answers the very
   JSON the service answered (same size). Rounds are interleaved (service, bare, service,
   bare, ...) so that other work on a shared machine disturbs both alike; the medians of
   all rounds and their ratio are printed. The bare endpoint is timed twice: as Flask
   serves JSON out of the box (the standard library's encoder), which is the reference,
   and with the service's encoder (service/fastjson.py, orjson), to show what is left
   once both encode alike.
   `--breakdown` then times the parts of the service's request inside the same WSGI
   calls (medians per request): reading and parsing the body, validation, the engine's
   C calls, the questions, the rest of the evaluation (implications, plan, metrics),
   rendering with the messages, JSON encoding; what is left is Flask, Werkzeug and the
   request's hooks (request id, metrics, the log line, security headers, compression).
2. **Over HTTP** (`--http`, needs wrk: `apt-get install wrk`): both apps under the same
   gunicorn configuration, --requests requests at --concurrency connections per round,
   interleaved rounds, the best round of each and the throughput ratio.

Exits 1 when the in-process ratio is above --max-ratio or (with --http) the HTTP ratio is
below --min-ratio. Not run by the tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402

import bench.bare_app as bare_app  # noqa: E402
import service.api as api  # noqa: E402
import service.observability as observability  # noqa: E402
from bench.load import Gunicorn, cpu_seconds, generate, wrk  # noqa: E402
from service import create_app  # noqa: E402

try:  # absent from checkouts before it: the script also measures those, for a before/after
    from service import fastjson
except ImportError:
    fastjson = None  # type: ignore[assignment]
try:  # the same
    from service import fastlane
except ImportError:
    fastlane = None  # type: ignore[assignment]


@contextmanager
def quiet_stderr():
    """The service's log lines go to stderr: to /dev/null while timing, as a collector would
    take them, without the terminal's cost."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def environs(cases: list[dict]) -> list[tuple[dict, bytes]]:
    out = []
    for case in cases:
        body = json.dumps(case).encode()
        environ = EnvironBuilder(
            path="/v1/guidance", method="POST", data=body, content_type="application/json"
        ).get_environ()
        out.append((environ, body))
    return out


def call(app, environ: dict, body: bytes) -> bytes:
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    status = []
    result = app(environ, lambda s, h, e=None: status.append(s))
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{status}: {data[:300]!r}")
    return data


def timed(app, requests: list[tuple[dict, bytes]]) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for environ, body in requests:
        start = clock()
        call(app, environ, body)
        out.append(clock() - start)
    return out


def in_process(args) -> float:
    cases = generate(args.cases, args.seed)
    service = create_app()
    requests = environs(cases)
    with quiet_stderr():
        answers = {
            c["case_id"]: json.loads(call(service, e, b))
            for c, (e, b) in zip(cases, requests, strict=True)
        }
    bare_app.ANSWERS.clear()
    bare_app.ANSWERS.update(answers)
    size = statistics.median(len(json.dumps(a)) for a in answers.values())
    apps = {"service": service, "bare": bare_app.app}
    if fastjson is not None:
        bare_orjson = bare_app.Flask("bare_orjson")
        bare_orjson.json = fastjson.Provider(bare_orjson)
        bare_orjson.add_url_rule("/v1/guidance", view_func=bare_app.guidance, methods=["POST"])
        apps["bare, orjson"] = bare_orjson
    results: dict[str, list[int]] = {name: [] for name in apps}
    with quiet_stderr():
        for _ in range(args.rounds):
            for name, app in apps.items():
                results[name] += timed(app, requests)
    medians = {name: statistics.median(t) / 1000 for name, t in results.items()}
    ratio = medians["service"] / medians["bare"]
    print(
        f"in process: {args.cases} cases x {args.rounds} rounds, answers of "
        f"{size / 1024:.1f} KiB (median)"
    )
    for name, value in medians.items():
        print(f"  {name:<13} {value:8.1f} µs per request (median)")
    print(f"  service / bare: {ratio:.2f}x (target <= {args.max_ratio}x)")
    if "bare, orjson" in medians:
        print(f"  service / bare with orjson: {medians['service'] / medians['bare, orjson']:.2f}x")
    if args.breakdown:
        breakdown(service, requests, args.rounds)
    return ratio


def breakdown(service, requests, rounds: int) -> None:
    """The parts of the service's request, timed inside the WSGI calls: per part, the
    median over the requests of its time in each; the rest is, per request, what none of
    the timed functions took (Flask's and Werkzeug's own work, and the timers'), and its
    median. Medians keep a shared machine's hiccups out (means would not)."""
    state = service.extensions["dispute_guide"]
    engine = state.engine
    labels: list[str] = []
    current: dict[str, int] = {}
    clock = time.perf_counter_ns
    saved: list = []

    def timer(original, label: str):
        labels.append(label)

        def timed_call(*args, **kwargs):
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                current[label] = current.get(label, 0) + clock() - start

        return timed_call

    def wrap(owner, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # an older checkout
            return
        saved.append((owner, name, original, name in vars(owner)))
        setattr(owner, name, timer(original, label))

    wrap(api, "json_body", "body: read and parse")
    wrap(api, "validate_case", "validation")
    wrap(api, "validated", "validation")
    wrap(engine, "evaluate", "evaluation")
    wrap(engine, "fire", "engine C calls")
    wrap(engine.asker, "ask", "questions")
    wrap(api, "render_guidance", "rendering and messages")
    wrap(service.json, "response", "JSON encoding, the response")
    wrap(api, "negotiate_lang", "query and headers: language")
    wrap(api, "questions_param", "query: questions")
    wrap(api, "messages_param", "query: messages")
    wrap(api, "localized", "answer headers")
    if fastlane is not None:  # the hot route's lean path: the same parts, by its names
        lane = service.wsgi_app
        wrap(fastlane, "_read", "body: read and parse")
        wrap(fastlane, "loads", "body: read and parse")
        wrap(fastlane, "validated", "validation")
        wrap(fastlane, "render_guidance", "rendering and messages")
        wrap(fastlane, "dumps", "JSON encoding, the response")
        wrap(fastlane, "query_args", "query and headers: language")
        wrap(fastlane, "choose_lang", "query and headers: language")
        wrap(observability, "request_id_of", "request id")
        wrap(type(lane.access), "refusal", "API key")
        wrap(lane.book, "finish", "metrics and the log line")
    hooks = {
        "before": dict(service.before_request_funcs),
        "after": dict(service.after_request_funcs),
    }
    for kind, funcs in (
        ("before", service.before_request_funcs),
        ("after", service.after_request_funcs),
    ):
        for key, hooked in list(funcs.items()):
            funcs[key] = [
                timer(f, f"hook {f.__name__.lstrip('_')} ({kind} request)") for f in hooked
            ]
    rows: list[dict[str, int]] = []
    try:
        with quiet_stderr():
            for _ in range(rounds):
                for environ, body in requests:
                    current.clear()
                    start = clock()
                    call(service, environ, body)
                    current["whole"] = clock() - start
                    rows.append(dict(current))
    finally:
        for owner, name, original, own in reversed(saved):
            if own:  # a module's function
                setattr(owner, name, original)
            else:  # an instance's method: its class's again
                delattr(owner, name)
        service.before_request_funcs.update(hooks["before"])
        service.after_request_funcs.update(hooks["after"])
    for row in rows:
        row["evaluation: the rest"] = (
            row.get("evaluation", 0) - row.get("engine C calls", 0) - row.get("questions", 0)
        )
        row["Flask, Werkzeug or the lane (the rest)"] = row["whole"] - sum(
            value for label, value in row.items() if label not in ("whole", "evaluation")
        )
    shown = [label for label in labels if label != "evaluation"]
    shown = list(dict.fromkeys(shown))  # a label wrapped twice (two ways of one part): once
    shown += ["evaluation: the rest", "Flask, Werkzeug or the lane (the rest)", "whole"]
    print("  the service's request, by part (µs, median over the requests):")
    for label in shown:
        value = statistics.median(row.get(label, 0) for row in rows) / 1000
        print(f"    {label:<36} {value:7.1f}")


def over_http(args) -> float:
    cases = generate(args.cases, args.seed)
    cases_file = ROOT / "bench" / ".http-cases.json"
    answers_file = ROOT / "bench" / ".http-answers.json"
    # One body per line: bench/wrk/guidance.lua sends each line as a request.
    cases_file.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    service = create_app()
    with quiet_stderr():
        answers = {
            c["case_id"]: json.loads(call(service, e, b))
            for c, (e, b) in zip(cases, environs(cases), strict=True)
        }
    answers_file.write_text(json.dumps(answers), encoding="utf-8")
    best = {"service": 0.0, "bare": 0.0}
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    cpus: dict[str, float] = {}
    failed = 0
    targets = {
        "service": ("service:create_app()", {}),
        "bare": ("bench.bare_app:app", {"BARE_APP_ANSWERS": str(answers_file)}),
    }
    try:
        for round_ in range(args.http_rounds):
            rates: dict[str, float] = {}
            for name, (app, env) in targets.items():
                server = Gunicorn(app, args.workers, {"DISPUTE_GUIDE_LOG_LEVEL": "info", **env})
                try:
                    if args.warmup:
                        wrk(
                            server.url, str(cases_file), args.warmup, args.concurrency, args.threads
                        )
                    cpu_before = cpu_seconds(server.pids)
                    result = wrk(
                        server.url, str(cases_file), args.requests, args.concurrency, args.threads
                    )
                    cpu_used = cpu_seconds(server.pids) - cpu_before
                finally:
                    server.stop()
                rate = result["answers"] / (result["duration_us"] / 1e6)
                cpu = cpu_used / max(result["answers"], 1) * 1e6
                errors = result["non_200"] + sum(result["errors"].values())
                failed += errors
                print(
                    f"  round {round_ + 1} {name:<8} {rate:8.0f} req/s, p50 "
                    f"{result['latency_us']['p50'] / 1000:.1f} ms, workers' CPU {cpu:.0f} µs "
                    f"per request, {errors} errors",
                    flush=True,
                )
                rates[name] = rate
                cpus[name] = cpu
                best[name] = max(best[name], rate)
            ratios.append(rates["service"] / rates["bare"])
            cpu_ratios.append(cpus["bare"] / cpus["service"])
            print(
                f"  round {round_ + 1} service / bare: {ratios[-1]:.2f} in throughput, "
                f"{cpu_ratios[-1]:.2f} in the workers' CPU per request (bare / service)",
                flush=True,
            )
    finally:
        cases_file.unlink(missing_ok=True)
        answers_file.unlink(missing_ok=True)
    ratio = best["service"] / best["bare"]
    print(
        f"over HTTP, best rounds: service {best['service']:.0f} req/s, bare "
        f"{best['bare']:.0f} req/s: {ratio:.2f}; per round "
        f"{', '.join(f'{r:.2f}' for r in ratios)} (target >= {args.min_ratio})"
    )
    print(
        "  the workers' CPU per request, bare / service (what the throughput ratio would be "
        "if the workers had the cores to themselves), per round: "
        f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}; median "
        f"{statistics.median(cpu_ratios):.2f}"
    )
    if failed:
        print(f"  {failed} requests failed")
        return 0.0
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument("--breakdown", action="store_true", help="time the request's parts")
    parser.add_argument("--http", action="store_true", help="also measure over HTTP with wrk")
    parser.add_argument("--http-rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--warmup", type=int, default=1000, help="requests before each round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-ratio", type=float, default=0.7)
    args = parser.parse_args()
    ok = in_process(args) <= args.max_ratio
    if args.http:
        ok = over_http(args) >= args.min_ratio and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
