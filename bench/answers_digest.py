"""A digest of the service's answers to thousands of generated cases: run it before and after
a change that must not change any answer, and compare the two lines it prints.

    .venv/bin/python bench/answers_digest.py [--cases 600] [--seeds 1,2,3,4,5] [--size 0]
                                             [--generated 0] [--dump FILE]

For each seed, --cases generated cases (bench/load.py's, seeded) are validated, evaluated
with and without the questions, and rendered in English and Russian with every question and
the messages of every phase; each answer is encoded as JSON in its own key order. It prints
the SHA-256 of all of them in turn, and the count. `--size N` evaluates them on the bundled
rules plus generated ones, N rules in all (bench/scale.py's folder), instead of the bundled
rules alone; `--generated N`, on the bundled facts and steps with N generated rules alone
(the scale tests' rulebooks, in files of 500 rules). `--dump FILE` also writes each answer
as one line to FILE, to find the first case that differs.

Not run by the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from bench.load import generate  # noqa: E402
from service.core import ALL_MESSAGES, load, render_guidance, validated  # noqa: E402

LANGS = ("en", "ru")


def answers(state, cases: list[dict]):
    """Each case's answers, as JSON lines."""
    engine = state.engine
    for case in cases:
        loaded, facts = validated(state, case)  # as the API does: the facts worked out once
        guidance = engine.evaluate(loaded, True, facts)
        for lang in LANGS:
            body = render_guidance(guidance, lang, None, ALL_MESSAGES)
            yield json.dumps(body, ensure_ascii=False)
        bare = engine.evaluate(loaded, False)
        yield json.dumps(render_guidance(bare, "en", None, ALL_MESSAGES), ensure_ascii=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600, help="cases per seed")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--size", type=int, default=0, help="total rules (0: the bundled ones)")
    parser.add_argument(
        "--generated",
        type=int,
        default=0,
        help="N generated rules over the bundled facts and steps alone (the scale tests')",
    )
    parser.add_argument("--dump", type=Path, help="also write every answer to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.generated:
            from tests.support.cases import RULEBOOK
            from tests.support.rulebooks import write_rulebook

            state = load(write_rulebook(Path(tmp) / "rules", RULEBOOK, args.generated, 1))
        elif args.size:
            from bench.scale import write_folder

            folder = Path(tmp) / "rules"
            write_folder(folder, args.size, 1)
            state = load(folder)
        else:
            state = load(None)
    digest = hashlib.sha256()
    count = 0
    out = args.dump.open("w", encoding="utf-8") if args.dump else None
    try:
        for seed in (int(s) for s in args.seeds.split(",")):
            for line in answers(state, generate(args.cases, seed)):
                digest.update(line.encode())
                digest.update(b"\n")
                count += 1
                if out is not None:
                    out.write(line + "\n")
    finally:
        if out is not None:
            out.close()
    print(f"{digest.hexdigest()}  {count} answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
