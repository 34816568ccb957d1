"""`dispute-guide batch IN -o OUT`: evaluate recorded cases from JSONL, CSV or Parquet.

In: JSONL (one case per line, as POST /v1/guidance takes it), CSV (a header row of
`case_id` and fact names, dotted for nested ones: `client.silent_days`; a list's items
separated by `;`; an empty cell is unknown; columns without a name are ignored) or
Parquet (columns `case_id` and the facts, a struct column for nested ones: `client` with
`silent_days`; a list column for `situations`; null is unknown).
Out: JSONL (one guidance per line, exactly what POST /v1/guidance answers), CSV (one row
per case: its line, case_id, the step ids and the question fields joined by `;`) or
Parquet (the same as lists, with the input's name in `file`).

Bad lines are reported on stderr as `line N: <field>: <problem>` and skipped; the input
is read as a stream and evaluated by `--jobs` processes in ordered chunks, so memory stays
flat for any number of lines. A file output appears only when the run succeeds. stderr
shows a progress bar when it is a terminal, and a summary table at the end (cases,
skipped lines, wall time, the most recommended steps).
With --cluster, the cases are evaluated by the workers of a Dask cluster instead: IN may
then be a file, a folder, a glob or an fsspec URL, and OUT is a folder of parts.
Exit status: 0 every line was good, 1 some were skipped, 2 the arguments or the input
cannot be used at all, or the run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from service.batch_eval import Job, load_state
from service.batch_input import FORMATS, Unusable, format_of, open_input, records, same_file
from service.batch_run import Run, RunFailed, open_sink, print_summary, started_at, summary_rows
from service.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from service.core import ALL_MESSAGES, DEFAULT_MESSAGES, DEFAULT_QUESTIONS

MESSAGES = {"now": DEFAULT_MESSAGES, "all": ALL_MESSAGES, "none": ()}


def messages_option(args: argparse.Namespace) -> tuple | None:
    return None if args.messages is None else MESSAGES[args.messages]


def _positive(text: str) -> int:
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
        "batch",
        help="evaluate many cases from JSONL, CSV or Parquet",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "input", metavar="IN", help="a .jsonl, .csv or .parquet file of cases, or - for stdin"
    )
    s.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default="-",
        help="a .jsonl, .csv or .parquet file, or - for stdout (the default); "
        "with --cluster, a folder",
    )
    s.add_argument(
        "--format",
        choices=FORMATS,
        help="the input's format (default: from IN's extension; jsonl for -)",
    )
    s.add_argument(
        "--output-format",
        choices=FORMATS,
        help="the output's format (default: from OUT's extension; jsonl for -)",
    )
    s.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores, %(default)s here)",
    )
    s.add_argument("--lang", choices=("en", "ru"), default="en")
    s.add_argument("--no-questions", action="store_true", help="skip the follow-up questions")
    s.add_argument(
        "--all-questions",
        action="store_true",
        help="list every follow-up question, not only the best few",
    )
    s.add_argument(
        "--messages",
        choices=tuple(MESSAGES),
        help="the ready-to-send messages: now (what to send now), all (the "
        "escalation letters too) or none; default: as the API in JSONL, "
        "none in CSV and Parquet (given, a `messages` column of JSON)",
    )
    s.add_argument("--rules", help="rules folder (default: the bundled one)")
    s.add_argument(
        "--report",
        metavar="HTML",
        help="also write a self-contained HTML report with a chart (needs the `report` extra)",
    )
    s.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler (tcp://host:8786), or local[:N] "
        "to start one here with N worker processes (needs the `cluster` extra)",
    )
    s.add_argument(
        "--block-size",
        type=_positive,
        metavar="BYTES",
        default=1 << 20,
        help="with --cluster: bytes of JSONL per task (default: %(default)s)",
    )
    s.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    """Evaluate every case of IN into OUT; report bad lines and a summary on stderr."""
    started = started_at()
    rules = args.rules or os.environ.get("DISPUTE_GUIDE_RULES_DIR") or None
    try:
        if args.report:
            from service.batch_report import need_matplotlib

            need_matplotlib()
            if not Path(args.report).resolve().parent.is_dir():
                raise Unusable(f"--report {args.report}: its folder does not exist")
        if args.cluster:
            from service.cluster_cli import run_on_cluster

            return run_on_cluster(args, rules, started)
        return _run_here(args, rules, started)
    except (Unusable, RunFailed) as error:
        print(f"dispute-guide batch: {error}", file=sys.stderr)
        return EXIT_USAGE


def _run_here(args: argparse.Namespace, rules: str | None, started: float) -> int:
    input_format = format_of(args.input, args.format, "--format")
    output_format = format_of(args.output, args.output_format, "--output-format")
    with open_input(args.input) as source:
        if args.output != "-" and same_file(source, args.output):
            raise Unusable(f"{args.output}: the output would overwrite the input")
        state = load_state(rules)
        cases, columns = records(source, input_format, state.rulebook, args.input)
        job = Job(
            rules,
            input_format,
            columns,
            output_format,
            args.lang,
            not args.no_questions,
            None if args.all_questions else DEFAULT_QUESTIONS,
            messages_option(args),
        )
        sink = open_sink(args.output, job, args.input)
        run = Run(state, job, args.jobs, sink, source, started)
        run.execute(cases)
    rows = summary_rows(run.tally, run.seconds, ("jobs", str(args.jobs)))
    print_summary(run.tally, state.rulebook, rows)
    if args.report:
        from service.batch_report import write_report

        write_report(Path(args.report), run.tally, state.rulebook, args.lang, rows, args.input)
        print(f"report: {args.report}", file=sys.stderr)
    return EXIT_FAILED if run.tally.errors else EXIT_OK
