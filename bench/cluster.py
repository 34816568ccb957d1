"""Throughput of `dispute-guide batch` on a Dask cluster against `--jobs` on one machine.

    .venv/bin/python bench/cluster.py [--cases 50000] [--workers 2] [--rounds 2]

On the same generated cases (seeded; follow-up questions included) it runs the real
command: `--jobs N` on JSONL and on Parquet, and `--cluster tcp://...` on a LocalCluster of
N worker processes (one thread each) that this script starts, JSONL and Parquet in and out,
then the same on a 1-worker cluster (how throughput grows with workers). A last run splits
the JSONL into small blocks (many more tasks) to measure the scheduler's cost per task.
Each figure is the best of --rounds runs, the runs of a round interleaved, so that other
work on the machine weighs on both sides alike. Cases/s count the whole command's wall
time (start-up, rule compilation, the first pass over JSONL blocks, writing); the cluster
itself is running before the command starts, as an existing cluster would be.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.support.batch import arrow_schema
from tests.support.cases import batch_cases
from tests.support.server import ROOT

CLI = str(Path(sys.executable).with_name("dispute-guide"))
SMALL_BLOCK = 64 * 1024


def run(args: list[str], out: Path | None) -> float:
    if out is not None and out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    started = time.perf_counter()
    proc = subprocess.run(
        [CLI, "batch", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dispute-guide batch {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return seconds


def tasks(folder: Path) -> int:
    return len(list(folder.glob("part-*")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster

    from service.batch_eval import load_state

    n = options.workers
    cases = batch_cases(options.cases)
    with tempfile.TemporaryDirectory(prefix="dispute-guide-bench-") as name:
        folder = Path(name)
        jsonl, parquet = folder / "cases.jsonl", folder / "cases.parquet"
        jsonl.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
        pq.write_table(
            pa.Table.from_pylist(cases, schema=arrow_schema(load_state(None).rulebook)),
            parquet,
            row_group_size=2_500,
        )
        out = folder / "out"
        best: dict[str, float] = {}
        counts: dict[str, int] = {}

        def keep(label: str, seconds: float, parts: int | None = None) -> None:
            best[label] = min(best.get(label, float("inf")), seconds)
            if parts is not None:
                counts[label] = parts

        clusters = {}
        try:
            for size in (n, 1):
                local = LocalCluster(
                    n_workers=size, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                clusters[size] = (local, Client(local))
            for _ in range(options.rounds):
                for size in (n, 1):
                    address = clusters[size][0].scheduler_address
                    label = f"{size} worker" + ("s" if size > 1 else "")
                    keep(
                        f"jsonl, cluster of {label}",
                        run([str(jsonl), "-o", str(out), "--cluster", address], out),
                        tasks(out),
                    )
                    keep(
                        f"parquet, cluster of {label}",
                        run(
                            [
                                str(parquet),
                                "-o",
                                str(out),
                                "--output-format",
                                "parquet",
                                "--cluster",
                                address,
                            ],
                            out,
                        ),
                        tasks(out),
                    )
                    keep(
                        f"jsonl, --jobs {size}",
                        run([str(jsonl), "-o", str(out) + ".jsonl", "--jobs", str(size)], None),
                    )
                    keep(
                        f"parquet, --jobs {size}",
                        run([str(parquet), "-o", str(out) + ".parquet", "--jobs", str(size)], None),
                    )
                address = clusters[n][0].scheduler_address
                keep(
                    f"jsonl, cluster of {n} workers, {SMALL_BLOCK // 1024} KiB blocks",
                    run(
                        [
                            str(jsonl),
                            "-o",
                            str(out),
                            "--cluster",
                            address,
                            "--block-size",
                            str(SMALL_BLOCK),
                        ],
                        out,
                    ),
                    tasks(out),
                )
        finally:
            for local, client in clusters.values():
                client.close()
                local.close()

    count = len(cases)
    print(
        f"dispute-guide batch on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{count:,} generated cases (follow-up questions included), best of "
        f"{options.rounds}\n"
    )
    print(f"| {'run':<44} | {'tasks':>5} | {'seconds':>7} | {'cases/s':>7} | {'vs --jobs':>9} |")
    print(f"|{'-' * 46}|{'-' * 6}:|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|")
    for label, seconds in best.items():
        fmt, _, rest = label.partition(", ")
        size = n if f"{n} workers" in rest or rest == f"--jobs {n}" else 1
        base = best[f"{fmt}, --jobs {size}"]
        print(
            f"| {label:<44} | {counts.get(label, ''):>5} | {seconds:>7.1f} | "
            f"{count / seconds:>7,.0f} | {base / seconds:>8.2f}x |"
        )
    small = f"jsonl, cluster of {n} workers, {SMALL_BLOCK // 1024} KiB blocks"
    big = f"jsonl, cluster of {n} workers"
    extra = counts[small] - counts[big]
    if extra > 0:
        per_task = (best[small] - best[big]) / extra * n
        print(
            f"\n{extra} more tasks took {best[small] - best[big]:+.1f} s on {n} workers: "
            + (
                f"about {per_task * 1000:.0f} ms of a worker per task"
                if per_task > 0
                else "the cost per task is below the noise of this machine"
            )
        )
    per_case = best["jsonl, cluster of 1 worker"] / count
    print(f"per case on one worker, all included: {per_case * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
