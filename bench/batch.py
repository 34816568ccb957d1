"""Throughput and memory of `dispute-guide batch` on generated cases.

    .venv/bin/python bench/batch.py [--cases 50000] [--jobs 1,2]

For each --jobs value it runs the real command on a JSONL file of generated cases (the
tests' generator, seeded) and prints cases per second and the peak memory: the resident
size of the whole process tree (the command and its workers, proportional set sizes summed
so that shared pages count once, sampled from /proc every 20 ms) and the resident size of
the main process alone. A last row runs the README's example command
(CSV in, JSONL out, an HTML report), and one row on a fifth of the cases shows that memory
does not grow with the input.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.support.cases import COLUMNS, batch_cases, csv_row

CLI = Path(sys.executable).with_name("dispute-guide")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: the pages forked workers share with the parent count once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _rss(pid)


def run(args: list[str]) -> dict:
    """Run the command; its wall time and peak memory (tree and main process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(CLI), "batch", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    tree_peak = main_peak = 0
    while proc.poll() is None:
        pids, tree = [proc.pid], 0
        while pids:
            pid = pids.pop()
            tree += _pss(pid)
            pids += _children(pid)
        tree_peak = max(tree_peak, tree)
        main_peak = max(main_peak, _rss(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    stderr = proc.stderr.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"dispute-guide batch {' '.join(args)} failed:\n{stderr}")
    return {"seconds": seconds, "tree": tree_peak, "main": main_peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    options = parser.parse_args()
    jobs = [int(j) for j in options.jobs.split(",")]

    cases = batch_cases(options.cases)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dispute-guide-bench-") as folder:
        folder = Path(folder)
        jsonl, small, table = folder / "cases.jsonl", folder / "small.jsonl", folder / "cases.csv"
        with jsonl.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(case) + "\n" for case in cases)
        with small.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(case) + "\n" for case in cases[: len(cases) // 5])
        with table.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(csv_row(case) for case in cases)
        out = str(folder / "out.jsonl")
        for n in jobs:
            rows.append(
                (
                    f"jsonl -> jsonl, --jobs {n}",
                    len(cases),
                    run([str(jsonl), "-o", out, "--jobs", str(n)]),
                )
            )
        n = max(jobs)
        rows.append(
            (
                f"jsonl -> jsonl, --jobs {n}",
                len(cases) // 5,
                run([str(small), "-o", out, "--jobs", str(n)]),
            )
        )
        rows.append(
            (
                f"csv -> jsonl + report, --jobs {n}",
                len(cases),
                run(
                    [
                        str(table),
                        "-o",
                        out,
                        "--jobs",
                        str(n),
                        "--report",
                        str(folder / "report.html"),
                    ]
                ),
            )
        )

    print(
        f"dispute-guide batch on {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}, generated cases (follow-up questions included)\n"
    )
    print(
        f"| {'run':<32} | {'cases':>7} | {'seconds':>7} | {'cases/s':>7} | "
        f"{'peak PSS MB, all':>16} | {'peak RSS MB, main':>17} |"
    )
    print(f"|{'-' * 34}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 17}:|{'-' * 18}:|")
    for name, count, r in rows:
        print(
            f"| {name:<32} | {count:>7,} | {r['seconds']:>7.1f} | "
            f"{count / r['seconds']:>7,.0f} | {r['tree'] / 2**20:>16.0f} | "
            f"{r['main'] / 2**20:>17.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
