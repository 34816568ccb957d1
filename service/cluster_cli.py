"""`dispute-guide batch IN -o OUT --cluster ADDRESS`: a batch run on a Dask cluster.

IN is a file, a folder, a glob or an fsspec URL of JSONL, CSV or Parquet files that the
workers can read; OUT a folder (or fsspec URL) where the workers write `part-NNNNN.jsonl`
or `.parquet`, one per task, in input order; the answers never pass through the client.
OUT gets a `_SUCCESS` file last, when every part is written; a failed run removes the
parts it wrote. JSONL is split into blocks of --block-size bytes (a first pass counts
each block's lines, so that bad lines are reported by their line in the file), Parquet
into its row groups; a CSV file is one task (a quoted cell may hold a line break, so a
CSV file cannot be split without reading it from the start).

A worker that dies mid-run (killed, out of memory) loses its tasks to the scheduler,
which runs them again on the other workers: each part is written under a temporary name
and renamed into place, so a task run twice leaves one part, and every case is in the
output exactly once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path, PurePosixPath

from service import cli_options
from service.batch_eval import load_state
from service.batch_input import (
    EXTENSIONS,
    LineProblem,
    Unusable,
    columns,
    csv_records,
    csv_rows,
    missing_extra,
    open_parquet,
)
from service.batch_report import write_report
from service.batch_run import RunFailed, print_summary, summary_rows
from service.cluster import Rules, RulesPlugin
from service.cluster_parts import Part, count_lines, evaluate_part, merge, problem_lines
from service.exit_codes import EXIT_FAILED, EXIT_OK

SUCCESS = "_SUCCESS"
GLOB = "*?["


def _need_dask() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
        import fsspec  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as error:
        raise missing_extra(error.name or "dask", "cluster", "--cluster") from None


def _filesystem(url: str):
    from fsspec.core import url_to_fs  # the cluster extra, loaded only on a cluster

    try:
        return url_to_fs(url)
    except ImportError as error:  # fsspec names the package: "Install s3fs to access S3"
        raise Unusable(
            f"{url}: {error}; the back ends are listed at https://filesystem-spec.readthedocs.io"
        ) from None
    except ValueError as error:
        raise Unusable(f"{url}: {error}") from None


def input_files(url: str, given: str | None) -> list[tuple[str, str]]:
    """(URL, format) of every input file: a file, a folder's files, or a glob's matches."""
    fs, path = _filesystem(url)
    if any(c in path for c in GLOB):
        paths = sorted(fs.glob(path))
    elif fs.isdir(path):
        paths = sorted(
            p
            for p in fs.find(path)
            if PurePosixPath(p).suffix.lower() in EXTENSIONS
            and not PurePosixPath(p).name.startswith((".", "_"))
        )
    elif fs.exists(path):
        paths = [path]
    else:
        raise Unusable(f"{url}: no such file or folder")
    if not paths:
        raise Unusable(f"{url}: no input files there")
    files = []
    for path in paths:
        suffix = PurePosixPath(path).suffix.lower()
        fmt = given or EXTENSIONS.get(suffix)
        if fmt is None:
            raise Unusable(
                f"{path}: cannot tell the format from the extension "
                f"{suffix or '(none)'}; name it .jsonl, .csv or .parquet, or use "
                "--format"
            )
        files.append((fs.unstrip_protocol(path), fmt))
    return files


def plan(client, files: list, rulebook, block_size: int) -> list:
    """The parts of the input, in order, each knowing the number of its first line."""
    import fsspec  # the cluster extra: checked by _need_dask before any run

    parts: list = []
    blocks = []  # JSONL: (url, offset, length), counted on the cluster
    for url, fmt in files:
        if fmt == "jsonl":
            fs, path = _filesystem(url)
            size = fs.size(path)
            blocks += [(url, offset, block_size) for offset in range(0, max(size, 1), block_size)]
            parts.append(("jsonl", url))
        elif fmt == "parquet":
            with fsspec.open(url, "rb") as f:
                metadata = open_parquet(f, rulebook, url).metadata
            first = 1
            for group in range(metadata.num_row_groups):
                parts.append(Part(0, url, "parquet", group, None, first))
                first += metadata.row_group(group).num_rows
        else:
            with fsspec.open(url, "rb") as f:
                header = next(csv_records(csv_rows(f)), None)
            if header is None:
                continue
            number, row = header
            if isinstance(row, LineProblem):
                raise Unusable(f"{url}: line {number}: the header: {row.message}")
            parts.append(
                Part(0, url, "csv", columns=columns(row, rulebook, f"{url}: line {number}"))
            )
    counts = iter(
        client.gather(client.map(count_lines, *zip(*blocks, strict=True), pure=False))
        if blocks
        else ()
    )
    ordered = []
    for item in parts:
        if isinstance(item, tuple):  # a JSONL file: its blocks
            url, first = item[1], 1
            for block_url, offset, length in blocks:
                if block_url == url:
                    ordered.append(Part(0, url, "jsonl", offset, length, first))
                    first += next(counts)
        else:
            ordered.append(item)
    return [
        Part(i, p.url, p.format, p.offset, p.length, p.first, p.columns)
        for i, p in enumerate(ordered)
    ]


def connect(address: str):
    """A client of the scheduler at `address`, or of a LocalCluster for `local[:N]`."""
    from distributed import Client, LocalCluster  # the cluster extra, loaded only on a cluster

    if address == "local" or address.startswith("local:"):
        count = address.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            raise Unusable(f"--cluster {address}: N in local:N is a number of workers, 1 or more")
        cluster = LocalCluster(
            n_workers=int(count or os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        )
        return Client(cluster), cluster
    try:
        return Client(address, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as error:
        raise Unusable(f"--cluster {address}: cannot reach the scheduler: {error}") from None


def _prepare_output(out: str):
    """The output folder's file system, its path, and whether it exists (it must be empty)."""
    fs, path = _filesystem(out)
    existed = fs.exists(path)
    if existed and (not fs.isdir(path) or fs.ls(path, detail=False)):
        raise Unusable(
            f"{out}: exists and is not an empty folder; the parts go into a new or empty folder"
        )
    return fs, path, existed


def run_on_cluster(args: argparse.Namespace, rules: str | None, started: float) -> int:
    _need_dask()
    from distributed import progress  # the cluster extra, checked just above

    if args.output == "-":
        raise Unusable("with --cluster, -o names the folder the workers write the parts to")
    output_format = args.output_format or EXTENSIONS.get(PurePosixPath(args.output).suffix, "jsonl")
    if output_format == "csv":
        raise Unusable("with --cluster, the output is JSONL or Parquet parts, not CSV")
    state = load_state(rules)
    files = input_files(args.input, args.format)
    fs, out, existed = _prepare_output(args.output)
    client, cluster = connect(args.cluster)
    succeeded = False
    try:
        fs.makedirs(out, exist_ok=True)
        print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
        shipped = Rules.of(state)
        try:  # every worker compiles the rules now, and one that differs is refused
            client.register_plugin(RulesPlugin(shipped))
        except Exception as error:
            raise RunFailed(f"a worker refused the rules: {error}") from None
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        parts = plan(client, files, state.rulebook, args.block_size)
        job = cli_options.job(args, None, "jsonl", None, output_format)
        futures = client.map(
            evaluate_part, parts, job=job, rules=shipped, out=fs.unstrip_protocol(out), pure=False
        )
        level = futures
        while len(level) > 1:  # the summary, reduced on the cluster
            level = [
                client.submit(merge, *level[i : i + 8], pure=False) for i in range(0, len(level), 8)
            ]
        if sys.stderr.isatty() and futures:
            progress(futures)
            print(file=sys.stderr)
        try:
            total = level[0].result() if level else merge()
        except Exception as error:
            raise RunFailed(
                f"the cluster run failed: {type(error).__name__}: {error}; no output was kept"
            ) from None
        fs.pipe(f"{out}/{SUCCESS}", b"")
        succeeded = True
    finally:
        if not succeeded:
            _remove_parts(fs, out, existed)
        client.close()
        if cluster is not None:
            cluster.close()
    for line in problem_lines(total.problems):
        print(line, file=sys.stderr)
    seconds = time.monotonic() - started
    rows = summary_rows(total.tally, seconds, ("workers", str(workers)))
    rows.append(("tasks", f"{len(parts):,}"))
    print_summary(total.tally, state.rulebook, rows)
    if args.report:
        write_report(Path(args.report), total.tally, state.rulebook, args.lang, rows, args.input)
        print(f"report: {args.report}", file=sys.stderr)
    return EXIT_FAILED if total.tally.errors else EXIT_OK


def _remove_parts(fs, out: str, existed: bool) -> None:
    """After a failed run: the parts written, and the folder if the run made it."""
    try:
        for path in fs.ls(out, detail=False):
            name = PurePosixPath(path).name
            if name.startswith(("part-", ".")):
                fs.rm(path)
        if not existed and not fs.ls(out, detail=False):
            fs.rmdir(out)
    except OSError:
        pass
