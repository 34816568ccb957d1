"""How the costs grow with the rulebook: evaluation, the questions, start-up, the conflict proof.

    .venv/bin/python bench/scale.py [--sizes 68,200,1000] [--cases 300] [--rounds 3]

For each size N, a rules folder is written to a temporary folder: the bundled rules (68
rules, with their declared conflicts, supersession, phases, implications and messages)
and N - 68 rules generated over the real facts by tests/support/rulebooks.py (2-3 realistic
conditions each, an `any` in a fifth of them, one step added). A generated rule adds
only steps outside the declared conflicts, so the folder loads; the conflict proof still
covers every declared and superseded pair over all N rules. It prints, per size:

- start-up: `service.state.load` (read and validate the files, prove the conflicts,
  compile the engine's rulesets, build the case schema, evaluate the probe case);
- the conflict proof alone (`service.coherence.find_conflicts`: the SAT encoding and one
  solver call per declared or superseded pair), and the engine's compilation alone;
- µs per case, median over --cases generated cases (bench/load.py's, seeded) x --rounds:
  `Engine.evaluate` without the questions, with them, and the whole answer (validation,
  evaluation with the questions, rendering with the messages, JSON encoding).

Not run by the tests (tests/test_scale.py proves the engine's answers at 1,000 and 5,000).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.load import generate  # noqa: E402
from schemas import fastcase  # noqa: E402
from service import fastjson  # noqa: E402
from service.api import render_guidance  # noqa: E402
from service.coherence import find_conflicts  # noqa: E402
from service.engine import Engine  # noqa: E402
from service.rulebook import load_rulebook  # noqa: E402
from service.state import load  # noqa: E402
from tests.support.rulebooks import BUNDLED, generate_rules  # noqa: E402


def write_folder(folder: Path, total: int, seed: int) -> int:
    """The bundled rules plus generated ones, `total` rules in all; returns the count."""
    shutil.copytree(BUNDLED, folder)
    bundled = load_rulebook(folder)
    extra = max(0, total - len(bundled.rules))
    if not extra:
        return len(bundled.rules)
    declared = {s for c in bundled.conflicts if not c.by_supersession for s in c.steps}
    free = sorted(s for s in bundled.steps if s not in declared)
    rng = random.Random(seed)
    rules = generate_rules(bundled, extra, seed)
    for rule in rules:
        rule["add"] = [rng.choice(free)]
    (folder / "generated.yaml").write_text(
        yaml.safe_dump({"section": "rules", "rules": rules}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return len(bundled.rules) + extra


def seconds(function, repeat: int = 1) -> tuple[float, object]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def per_case(function, items: list, rounds: int) -> float:
    clock = time.perf_counter_ns
    times = []
    for _ in range(rounds):
        for item in items:
            start = clock()
            function(item)
            times.append(clock() - start)
    return statistics.median(times) / 1000


def measure(total: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rules"
        count = write_folder(folder, total, args.seed)
        startup, state = seconds(lambda: load(folder), args.repeat)
        rulebook = state.rulebook
        proof, found = seconds(lambda: find_conflicts(rulebook), args.repeat)
        assert not found, found
        compile_s, engine = seconds(lambda: Engine(rulebook), 1)
        engine.close()
    cases = [fastcase.load(state.schema, c) for c in generate(args.cases, args.seed)]
    engine = state.engine

    def answer(case):
        loaded = fastcase.load(state.schema, case)
        guidance = engine.evaluate(loaded, True)
        return fastjson.dumps(render_guidance(guidance, "en"))

    result = {
        "rules": count,
        "engine rules": sum(len(s) for s in engine.shards),
        "rulesets": len(engine.shards),
        "pairs": len(rulebook.conflicts),
        "startup_s": startup,
        "proof_s": proof,
        "compile_s": compile_s,
        "no_questions_us": per_case(lambda c: engine.evaluate(c, False), cases, args.rounds),
        "questions_us": per_case(lambda c: engine.evaluate(c, True), cases, args.rounds),
        "answer_us": per_case(answer, cases, args.rounds),
    }
    engine.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="68,200,1000", help="total rules, comma-separated")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="start-up and proof: best of")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    header = (
        "| rules | engine rules (rulesets) | conflict pairs | start-up s | conflict proof s "
        "| engine compile s | µs/case, no questions | µs/case, questions | µs/answer |"
    )
    print(header)
    print("|---" * 9 + "|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size, args)
        print(
            f"| {r['rules']:,} | {r['engine rules']:,} ({r['rulesets']}) | {r['pairs']} "
            f"| {r['startup_s']:.2f} | {r['proof_s']:.3f} | {r['compile_s']:.2f} "
            f"| {r['no_questions_us']:.0f} | {r['questions_us']:.0f} | {r['answer_us']:.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
