"""Hypothesis strategies for cases, built from the facts of the loaded rules."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from service.plan import complete
from service.rulebook import Fact, load_rulebook

RULEBOOK = load_rulebook()


def fact_values(fact: Fact) -> st.SearchStrategy:
    if fact.type == "boolean":
        return st.booleans()
    if fact.type == "enum":
        return st.sampled_from(fact.values)
    if fact.type == "integer":
        # The rules' thresholds and their neighbours, and anything in bounds.
        cuts = RULEBOOK.cuts.get(fact.name, ())
        edges = sorted(
            {fact.min, fact.max, *cuts, *(c - 1 for c in cuts)} & set(range(fact.min, fact.max + 1))
        )
        return st.one_of(st.sampled_from(edges), st.integers(fact.min, fact.max))
    return st.lists(
        st.sampled_from(fact.values), min_size=1, max_size=len(fact.values), unique=True
    )


def nest(flat: dict) -> dict:
    """Dotted names back into the request's nested objects."""
    case: dict = {}
    for name, value in flat.items():
        if "." in name:
            group, key = name.split(".", 1)
            case.setdefault(group, {})[key] = value
        else:
            case[name] = value
    return case


def consistent(flat: dict) -> dict:
    """The facts without those that contradict what the others imply (facts.yaml
    `implications`): a valid case, in which the dropped facts are implied instead."""
    facts = complete(RULEBOOK, flat)
    while True:
        wrong = [
            name
            for i in RULEBOOK.implications
            if i.test(facts)
            for name, value in i.then.items()
            if flat.get(name, value) != value
        ]
        if not wrong:
            return flat
        flat = {n: v for n, v in flat.items() if n not in wrong}
        facts = complete(RULEBOOK, flat)


@st.composite
def flat_cases(draw, known: float | None = None) -> dict:
    """A valid case as dotted facts: situations always, every other fact known or not."""
    flat = {}
    for fact in RULEBOOK.facts.values():
        if fact.required or draw(st.booleans()):
            flat[fact.name] = draw(fact_values(fact))
    return consistent(flat)


def cases() -> st.SearchStrategy:
    return flat_cases().map(nest)


def random_flat(rng: random.Random) -> dict:
    """A valid case as dotted facts; numbers at the rules' thresholds half of the time."""
    flat = {}
    for fact in RULEBOOK.facts.values():
        if not fact.required and rng.random() < 0.5:
            continue
        if fact.type == "boolean":
            flat[fact.name] = rng.random() < 0.5
        elif fact.type == "enum":
            flat[fact.name] = rng.choice(fact.values)
        elif fact.type == "integer":
            cuts = RULEBOOK.cuts.get(fact.name, ())
            edges = [v for c in cuts for v in (c - 1, c) if fact.min <= v <= fact.max]
            flat[fact.name] = (
                rng.choice(edges)
                if edges and rng.random() < 0.5
                else rng.randint(fact.min, fact.max)
            )
        else:
            flat[fact.name] = rng.sample(fact.values, rng.randint(1, len(fact.values)))
    return consistent(flat)
