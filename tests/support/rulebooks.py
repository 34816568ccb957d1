"""Large generated rulebooks over the real facts, for the scale tests and bench/scale.py."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import yaml

from service.rulebook import Rulebook

BUNDLED = Path(__file__).resolve().parents[2] / "rules"


def _condition(rng: random.Random, fact) -> dict:
    """One realistic test on `fact`: what the bundled rules write, with random values."""
    if fact.type == "list":
        op = rng.choice(("includes", "includes", "includes_any", "excludes"))
        if op == "includes":
            return {op: rng.choice(fact.values)}
        return {op: rng.sample(fact.values, rng.randint(1, 3))}
    if fact.type == "boolean":
        value = rng.random() < 0.5
        return {"is": value, "if_unknown": True} if rng.random() < 0.3 else value
    if fact.type == "enum":
        values = rng.sample(fact.values, rng.randint(1, min(3, len(fact.values))))
        op = rng.choice(("in", "not_in"))
        test: dict = {op: values}
        if rng.random() < 0.3:
            test["if_unknown"] = True
        return test
    op = rng.choice(("at_least", "less_than", "at_most", "more_than"))
    return {op: rng.randint(fact.min, min(fact.max, 30))}


def generate_rules(rulebook: Rulebook, count: int, seed: int) -> list[dict]:
    """`count` rules of 2-3 conditions over the real facts, each adding one step."""
    rng = random.Random(seed)
    facts = [f for f in rulebook.facts.values()]
    situations = rulebook.facts["situations"]
    steps = sorted(rulebook.steps)
    rules = []
    for i in range(count):
        when: dict = {"situations": _condition(rng, situations)}
        for fact in rng.sample([f for f in facts if f.type != "list"], rng.randint(1, 2)):
            when[fact.name] = _condition(rng, fact)
        if rng.random() < 0.2:  # an `any` of two more tests
            a, b = rng.sample([f for f in facts if f.type != "list"], 2)
            when["any"] = [{a.name: _condition(rng, a)}, {b.name: _condition(rng, b)}]
        rules.append(
            {
                "id": f"generated-{i}",
                "description": "A generated rule.",
                "when": when,
                "reason": {"en": "Generated.", "ru": "Сгенерировано."},
                "add": [rng.choice(steps)],
            }
        )
    return rules


def write_rulebook(
    folder: Path, rulebook: Rulebook, count: int, seed: int = 1, per_file: int = 500
) -> Path:
    """The bundled facts and steps with `count` generated rules and no declared conflicts."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("facts.yaml", "steps.yaml"):
        shutil.copy(BUNDLED / name, folder / name)
    rules = generate_rules(rulebook, count, seed)
    for start in range(0, len(rules), per_file):
        document = {"section": "rules", "rules": rules[start : start + per_file]}
        (folder / f"generated-{start // per_file:03d}.yaml").write_text(
            yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return folder
