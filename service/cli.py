"""The `dispute-guide` command: serve, evaluate, batch, check, openapi, config, hash-key."""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
from pathlib import Path

from gunicorn.util import parse_address

from schemas.common import DEFAULT_LANG
from service import batch_cli, jsonio
from service.cli_options import answer_options, rules_option
from service.coherence import never_given
from service.config import ConfigError, from_env, markdown_table
from service.core import (
    ALL_MESSAGES,
    DEFAULT_QUESTIONS,
    Loaded,
    load_rules,
    render_guidance,
    validate_case,
    validated,
)
from service.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from service.messages import compose
from service.openapi import render
from service.problem_texts import translate
from service.problems import ApiError, ValidationFailed
from service.rulebook import RulesError
from service.security import hash_key

GUNICORN_CONFIG = "python:service.gunicorn_conf"  # in the package: found whatever the folder


def _load(rules_dir: str | None) -> Loaded:
    """The rules of a command, or exit 1 saying why they cannot be used."""
    try:
        return load_rules(rules_dir)
    except RulesError as error:
        print(f"dispute-guide: the rules cannot be loaded:\n{error}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None


def cannot_listen(bind: str) -> str | None:
    """Why gunicorn could not listen on `bind`, in one line; None when it can.

    gunicorn itself would retry a taken port five times, a second apart, and then say
    only "Can't connect"; trying first gives the reason and the setting to change at once.
    """

    try:
        address = parse_address(bind)
    except RuntimeError as error:
        return f"DISPUTE_GUIDE_BIND={bind!r} is not HOST:PORT: {error}"
    if not isinstance(address, tuple):  # a unix socket or a file descriptor: gunicorn checks
        return None
    host, port = address
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError, OverflowError) as error:
        return (
            f"cannot listen on {bind}: {getattr(error, 'strerror', None) or error}; "
            "set DISPUTE_GUIDE_BIND (or --bind) to HOST:PORT"
        )
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (
                    f"{bind} is already in use by another process; set DISPUTE_GUIDE_BIND "
                    "(or --bind) to a free HOST:PORT"
                )
            return (
                f"cannot listen on {bind}: {error.strerror}; set DISPUTE_GUIDE_BIND "
                "(or --bind) to another HOST:PORT"
            )
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    """Run gunicorn with the package's configuration (replaces this process)."""

    try:
        bind = args.bind or from_env()["BIND"]
    except ConfigError as error:
        print(f"dispute-guide: {error}", file=sys.stderr)
        return EXIT_USAGE
    problem = cannot_listen(bind)
    if problem:
        print(f"dispute-guide: {problem}", file=sys.stderr)
        return EXIT_FAILED
    argv = [sys.executable, "-m", "gunicorn", "--config", GUNICORN_CONFIG]
    if args.bind:
        argv += ["--bind", args.bind]
    argv.append("service:create_app()")
    os.execv(sys.executable, argv)
    return EXIT_FAILED  # not reached


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate one case from a file or stdin and print the guidance."""

    state = _load(args.rules)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as error:
        print(f"dispute-guide: {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    try:
        case, facts = validated(state, jsonio.loads(data))
    except ValidationFailed as error:
        for path, messages in (error.errors or {}).items():
            for message in messages:
                print(
                    f"dispute-guide: {args.file}: {path}: {translate(message, args.lang)}",
                    file=sys.stderr,
                )
        return EXIT_FAILED
    except ApiError as error:
        print(f"dispute-guide: {args.file}: {translate(error.detail, args.lang)}", file=sys.stderr)
        return EXIT_FAILED
    guidance = state.engine.evaluate(case, not args.no_questions, facts)
    most = None if args.all_questions else DEFAULT_QUESTIONS
    json.dump(render_guidance(guidance, args.lang, most), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def run_rule_tests(state: Loaded) -> list[str]:
    """Run every rule file's own test cases; return one line per failure."""

    failures = []
    produced: set[str] = set()
    for test in state.rulebook.tests:
        where = f"{test.file}: {test.name}"
        try:
            case = validate_case(state, test.case)
        except ValidationFailed as error:
            failures.append(f"{where}: the case is invalid: {error.errors}")
            continue
        guidance = state.engine.evaluate(case, questions=False)
        phases = {p.step.id: p.phase for p in guidance.steps}
        steps = set(phases)
        produced |= steps
        missing = [s for s in test.expect if s not in steps]
        unwanted = [s for s in test.forbid if s in steps]
        misplaced = {s: phases.get(s) for s, phase in test.phases.items() if phases.get(s) != phase}
        if missing:
            failures.append(f"{where}: expected {missing}, got {sorted(steps)}")
        if unwanted:
            failures.append(f"{where}: must not give {unwanted}")
        if misplaced:
            failures.append(f"{where}: phases expected {test.phases}, got {misplaced}")
        if test.messages is not None:
            held = {
                m["id"]: m["covers"]
                for m in compose(
                    guidance.templates, guidance.steps, None, DEFAULT_LANG, ALL_MESSAGES
                )
            }
            if held != test.messages:
                failures.append(f"{where}: messages expected {test.messages}, got {held}")
    never = sorted(set(state.rulebook.steps) - produced)
    if never:
        failures.append(f"steps no test case produces: {never}")
    return failures


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the rules and run their test cases."""

    state = _load(args.rules)  # loading proves the declared conflicts, or refuses the rules
    failures = run_rule_tests(state)
    tests = len(state.rulebook.tests)
    conflicts = state.rulebook.conflicts
    declared = [c for c in conflicts if not c.by_supersession]
    print(
        f"{len(declared)} declared conflicts and {len(conflicts) - len(declared)} "
        "superseded pairs, each proved impossible for every case (SAT, complete):"
    )
    for conflict in declared:
        print(f"  never together: {' + '.join(conflict.steps)}")
    for step, by in sorted(state.rulebook.superseded_by.items()):
        print(f"  left out when given: {step} (by {', '.join(by)})")
    steps, rules = never_given(state.rulebook)
    for step in steps:
        print(f"WARN step {step} can never be given")
    for rule in rules:
        print(f"WARN rule {rule} can never fire")
    for line in failures:
        print(f"FAIL {line}")
    print(
        f"{len(state.rulebook.rules)} rules, {len(state.rulebook.steps)} steps, "
        f"ruleset {state.version}: {tests} cases, "
        f"{'all passed' if not failures else f'{len(failures)} failures'}"
    )
    return EXIT_FAILED if failures else EXIT_OK


def cmd_openapi(args: argparse.Namespace) -> int:
    """Print openapi.yaml as generated from the schemas."""

    sys.stdout.write(render(_load(args.rules).rulebook))
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    """Print the configuration variables as a Markdown table."""

    print(markdown_table())
    return EXIT_OK


def cmd_hash_key(args: argparse.Namespace) -> int:
    """Print the SHA-256 line for DISPUTE_GUIDE_API_KEYS_FILE of a key read from stdin."""

    key = sys.stdin.readline().strip()
    if not key:
        print("dispute-guide: hash-key reads the key from stdin; got nothing", file=sys.stderr)
        return EXIT_USAGE
    print(hash_key(key))
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispute-guide", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the API with gunicorn")
    s.add_argument("--bind", help="host:port (default: DISPUTE_GUIDE_BIND or 127.0.0.1:8000)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("evaluate", help="evaluate one case (JSON) and print the guidance")
    s.add_argument("file", help="a JSON file, or - for stdin")
    answer_options(s)
    rules_option(s)
    s.set_defaults(func=cmd_evaluate)

    batch_cli.add_parser(sub)

    s = sub.add_parser("check", help="validate the rules and run their test cases")
    rules_option(s)
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("openapi", help="print openapi.yaml generated from the schemas")
    rules_option(s)
    s.set_defaults(func=cmd_openapi)

    s = sub.add_parser("config", help="print the configuration variables")
    s.set_defaults(func=cmd_config)

    s = sub.add_parser(
        "hash-key", help="hash an API key (from stdin) for DISPUTE_GUIDE_API_KEYS_FILE"
    )
    s.set_defaults(func=cmd_hash_key)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
