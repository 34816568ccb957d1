"""The command line's shared options: the answer's language and questions, the rules
folder, and the `batch` command's arguments with the Job they describe (shared by the run
on this machine, service/batch_cli.py, and on a Dask cluster, service/cluster_cli.py).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from schemas.common import DEFAULT_LANG, LANGS
from service.batch_eval import Job
from service.batch_input import FORMATS
from service.core import ALL_MESSAGES, DEFAULT_MESSAGES, DEFAULT_QUESTIONS

MESSAGES = {"now": DEFAULT_MESSAGES, "all": ALL_MESSAGES, "none": ()}


def messages_option(args: argparse.Namespace) -> tuple | None:
    return None if args.messages is None else MESSAGES[args.messages]


def answer_options(s: argparse.ArgumentParser) -> None:
    """--lang, --no-questions and --all-questions: what an answer holds."""
    s.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG)
    s.add_argument("--no-questions", action="store_true", help="skip the follow-up questions")
    s.add_argument(
        "--all-questions",
        action="store_true",
        help=f"list every follow-up question (default: the best {DEFAULT_QUESTIONS})",
    )


def rules_option(s: argparse.ArgumentParser) -> None:
    s.add_argument("--rules", help="rules folder (default: the bundled one)")


def job(
    args: argparse.Namespace,
    rules: str | None,
    input_format: str,
    columns: tuple | None,
    output_format: str,
) -> Job:
    """What the workers need to evaluate the chunks, as the arguments say."""
    return Job(
        rules,
        input_format,
        columns,
        output_format,
        args.lang,
        not args.no_questions,
        None if args.all_questions else DEFAULT_QUESTIONS,
        messages_option(args),
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_parser(
    sub: argparse._SubParsersAction, command: Callable[[argparse.Namespace], int], description: str
) -> None:
    """Register the `batch` subcommand."""
    s = sub.add_parser(
        "batch",
        help="evaluate many cases from JSONL, CSV or Parquet",
        description=description,
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
    answer_options(s)
    s.add_argument(
        "--messages",
        choices=tuple(MESSAGES),
        help="the ready-to-send messages: now (what to send now), all (the "
        "escalation letters too) or none; default: as the API in JSONL, "
        "none in CSV and Parquet (given, a `messages` column of JSON)",
    )
    rules_option(s)
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
    s.set_defaults(func=command)
