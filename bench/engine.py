"""How much the engine adapter costs over durable_rules' bare C calls.

    .venv/bin/python bench/engine.py [--cases 1000] [--rounds 5] [--seed 1]

Over one fixed mix of generated cases (the tests' generator, seeded: each situation
leading in turn, with up to two more; the other facts known half of the time), in one run
and interleaved round by round so that a noisy machine slows every variant alike, it times
per evaluation:

- bare: the C calls alone for the same facts: `assert_fact` with a JSON text built
  in advance, the action loop (`start_action_for_state`, `complete_and_start_action`),
  `delete_state`, on the adapter's own compiled ruleset. (The one place outside
  service/engine.py that touches durable_rules: it is the baseline.)
- adapter: `Engine.evaluate(case, questions=False)`: flattening, JSON, the calls, the
  fired rules resolved into ordered steps with their reasons.
- adapter+questions: `Engine.evaluate(case)`, with the follow-up questions.

It prints median and p99 in µs and the ratios the issues set limits on (adapter/bare
within 2×; with questions within 2× of without), and exits 1 if a limit is broken.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

import durable_rules_engine as dre

from service.engine import flatten
from service.plan import complete
from service.state import load
from tests.support.cases import generate


def bare_loop(handles: list, payloads: list[tuple[str, str]]) -> list[int]:
    """The same C calls as the adapter, on each of its rulesets in turn."""
    timings = []
    clock = time.perf_counter_ns
    for sid, payload in payloads:
        start = clock()
        for handle in handles:
            _, state = dre.assert_fact(handle, payload)
            result = dre.start_action_for_state(handle, state)
            while result:
                message = result[1] if type(result) is tuple else result
                message[2 : message.index('"', 2)]
                result = dre.complete_and_start_action(handle, state)
            dre.delete_state(handle, sid)
        timings.append(clock() - start)
    return timings


def adapter_loop(engine, cases: list[dict], questions: bool) -> list[int]:
    timings = []
    clock = time.perf_counter_ns
    evaluate = engine.evaluate
    for case in cases:
        start = clock()
        evaluate(case, questions)
        timings.append(clock() - start)
    return timings


def summary(timings: list[int]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered) / 1000, ordered[int(len(ordered) * 0.99) - 1] / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    state = load(None)
    engine, rulebook = state.engine, state.rulebook
    mix = generate(args.cases, args.seed, ids="bench-{}", situations="each")
    cases = [state.schema.load(c) for c in mix]
    results: dict[str, list[int]] = {"bare": [], "adapter": [], "adapter+questions": []}
    sid = 10_000_000
    for _ in range(args.rounds):
        payloads = []
        for case in cases:
            sid += 1
            payloads.append((str(sid), engine.encode(complete(rulebook, flatten(case)), str(sid))))
        gc.collect()
        results["bare"] += bare_loop(engine._handles, payloads)
        results["adapter"] += adapter_loop(engine, cases, False)
        results["adapter+questions"] += adapter_loop(engine, cases, True)

    figures = {name: summary(t) for name, t in results.items()}
    print(
        f"{args.cases} generated cases x {args.rounds} rounds, {len(rulebook.rules)} rules "
        f"in {len(engine.shards)} engine rulesets, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"{'variant':<20}{'median µs':>12}{'p99 µs':>12}")
    for name, (median, p99) in figures.items():
        print(f"{name:<20}{median:>12.1f}{p99:>12.1f}")
    adapter_ratio = figures["adapter"][0] / figures["bare"][0]
    questions_ratio = figures["adapter+questions"][0] / figures["adapter"][0]
    print(f"adapter / bare (median): {adapter_ratio:.2f}x (limit 2x)")
    print(f"with questions / without (median): {questions_ratio:.2f}x (limit 2x)")
    return 0 if adapter_ratio <= 2 and questions_ratio <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
