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
import sys
from pathlib import Path

from service import cli_options
from service.batch_eval import load_state
from service.batch_input import Unusable, format_of, open_input, records, same_file
from service.batch_report import need_matplotlib, write_report
from service.batch_run import Run, RunFailed, open_sink, print_summary, started_at, summary_rows
from service.cluster_cli import run_on_cluster
from service.core import rules_folder
from service.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `batch` subcommand."""
    cli_options.add_parser(sub, cmd_batch, (__doc__ or "").split("\n\n", 1)[1])


def cmd_batch(args: argparse.Namespace) -> int:
    """Evaluate every case of IN into OUT; report bad lines and a summary on stderr."""
    started = started_at()
    rules = rules_folder(args.rules)
    try:
        if args.report:
            need_matplotlib()
            if not Path(args.report).resolve().parent.is_dir():
                raise Unusable(f"--report {args.report}: its folder does not exist")
        if args.cluster:
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
        job = cli_options.job(args, rules, input_format, columns, output_format)
        sink = open_sink(args.output, job, args.input)
        run = Run(state, job, args.jobs, sink, source, started)
        run.execute(cases)
    rows = summary_rows(run.tally, run.seconds, ("jobs", str(args.jobs)))
    print_summary(run.tally, state.rulebook, rows)
    if args.report:
        write_report(Path(args.report), run.tally, state.rulebook, args.lang, rows, args.input)
        print(f"report: {args.report}", file=sys.stderr)
    return EXIT_FAILED if run.tally.errors else EXIT_OK
