"""The one generator of cases, for the tests and bench/.

Every generated case comes from `build`, which draws its choices from a `Picker`: a seeded
`random.Random` (`generate`: the same seed gives the same cases, in any process) or
hypothesis' `draw` (`strategy`: the same cases, shrinkable). Its options make the variants
the callers need, not copies of it:

- `form`: `"nested"`, the request body (groups of facts as objects); `"flat"`, dotted fact
  names as the engine reads them; `"csv"`, a row of cells under `COLUMNS`;
- `ids`: a format for the index (`"case-{:05d}"`) or None; `unnamed_every`: every n-th case
  has no id;
- `situations`: `"any"`, any non-empty set; `"each"`, situation `index % n` first, then up to
  two more, so that each situation leads as often as every other (the benches' mix);
- `known`: the chance that each fact but the required ones is known;
- `context_chance`: the chance of a messages `context` (names, project, amount, dates, with awkward
  values among ordinary ones);
- `invalid`: the chance that a case is spoiled, in one to three of the ways `SPOILS` names
  (a fact of the wrong type or out of range, an unknown field, a group that is no object,
  no situations, an id of the wrong type): the schema refuses every spoiled case.

A valid case (every case when `invalid` is 0) never contradicts the rules' implications: the
facts an implication contradicts are left out, so that they are implied instead.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from service.plan import complete
from service.rulebook import Fact, load_rulebook

RULEBOOK = load_rulebook()
COLUMNS = ("case_id", *RULEBOOK.facts)
FORMS = ("nested", "flat", "csv")

# Values for the messages context: ordinary ones, and names with quotes, markup, braces.
NAMES = ["Anna", "Иван Петров", "O'Brien & Co", "{amount}", "<b>Bold</b>", "Zoë", "a" * 80]
PROJECTS = ["Logo", "Сайт магазина", "{project}", "x" * 120]
AMOUNTS = [0, 1500, 1499.99, 10**12, 0.5]
# Values of other JSON types than a fact's (the schema refuses each of them).
WRONG_TYPES: dict[str, list[Any]] = {
    "boolean": [1, 0, "true", "", 1.0, [], {}, [True]],
    "integer": ["5", True, False, 5.0, 5.5, [], {}, [5]],
    "enum": [5, True, 1.5, [], {}, ["x"]],
    "list": ["conflict", 5, True, 1.5, {}, {"0": "conflict"}],
}
WRONG_IDS: list[Any] = [5, True, [], {}, 1.5, "x" * 129]
NOT_OBJECTS: list[Any] = [1, "x", [], True, 1.5]
UNKNOWN_FIELDS = ["colour", "notes"]
SPOILS = (
    "wrong type",
    "out of range",
    "unknown field",
    "group not an object",
    "no situations",
    "wrong id",
)


class Picker(Protocol):
    """Where the generator's choices come from."""

    def chance(self, p: float) -> bool: ...
    def choice(self, values: Sequence) -> Any: ...
    def integer(self, low: int, high: int) -> int: ...
    def subset(self, values: Sequence, low: int, high: int) -> list: ...


class RandomPicker:
    """Choices from a seeded random.Random: the same seed, the same choices."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def choice(self, values: Sequence) -> Any:
        return self.rng.choice(values)

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def subset(self, values: Sequence, low: int, high: int) -> list:
        return self.rng.sample(list(values), self.rng.randint(low, high))


class DrawPicker:
    """Choices drawn by hypothesis, so that a failing case shrinks."""

    def __init__(self, draw: Callable):
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def chance(self, p: float) -> bool:
        return p >= 1 or (p > 0 and self.draw(self.st.booleans()))

    def choice(self, values: Sequence) -> Any:
        return self.draw(self.st.sampled_from(values))

    def integer(self, low: int, high: int) -> int:
        return self.draw(self.st.integers(low, high))

    def subset(self, values: Sequence, low: int, high: int) -> list:
        items = self.st.sampled_from(values)
        return self.draw(self.st.lists(items, min_size=low, max_size=high, unique=True))


def edges(fact: Fact) -> list[int]:
    """An integer fact's bounds, the rules' thresholds on it and the values just below them."""
    cuts = RULEBOOK.cuts.get(fact.name, ())
    return sorted(
        {fact.min, fact.max, *cuts, *(c - 1 for c in cuts)} & set(range(fact.min, fact.max + 1))
    )


def value(pick: Picker, fact: Fact, index: int = 0, situations: str = "any") -> Any:
    """A value of `fact`; integers at the rules' thresholds half of the time."""
    if fact.type == "boolean":
        return pick.chance(0.5)
    if fact.type == "enum":
        return pick.choice(fact.values)
    if fact.type == "integer":
        if pick.chance(0.5):
            return pick.choice(edges(fact))
        return pick.integer(fact.min, fact.max)
    if situations == "each":
        lead = fact.values[index % len(fact.values)]
        others = [v for v in fact.values if v != lead]
        return [lead, *pick.subset(others, 0, min(2, len(others)))]
    return pick.subset(fact.values, 1, len(fact.values))


def nest(flat: dict) -> dict:
    """Dotted names back into the request's nested objects."""
    case: dict = {}
    for name, item in flat.items():
        if "." in name:
            group, key = name.split(".", 1)
            case.setdefault(group, {})[key] = item
        else:
            case[name] = item
    return case


def flatten(case: dict) -> dict:
    """A request's facts under their dotted names (the id and the context left out)."""
    flat = {}
    for name in RULEBOOK.facts:
        group, _, key = name.partition(".")
        holder = case.get(group) if key else case
        if isinstance(holder, dict) and (key or name) in holder:
            flat[name] = holder[key or name]
    return flat


def consistent(flat: dict) -> dict:
    """The facts without those that contradict what the others imply (facts.yaml
    `implications`): a valid case, in which the dropped facts are implied instead."""
    facts = complete(RULEBOOK, flat)
    while True:
        wrong = [
            name
            for i in RULEBOOK.implications
            if i.test(facts)
            for name, implied in i.then.items()
            if flat.get(name, implied) != implied
        ]
        if not wrong:
            return flat
        flat = {n: v for n, v in flat.items() if n not in wrong}
        facts = complete(RULEBOOK, flat)


def context(pick: Picker) -> dict:
    """Some of the messages context's fields, with ordinary and awkward values."""
    found: dict = {}
    if pick.chance(0.6):
        found["client_name"] = pick.choice(NAMES)
    if pick.chance(0.5):
        found["freelancer_name"] = pick.choice(NAMES)
    if pick.chance(0.5):
        found["project"] = pick.choice(PROJECTS)
    if pick.chance(0.5):
        found["amount"] = pick.choice(AMOUNTS)
        if pick.chance(0.7):
            found["currency"] = pick.choice(["EUR", "RUB", "USD"])
    for name in ("due_date", "reply_by"):
        if pick.chance(0.4):
            found[name] = (
                dt.date(2027, 1, 1) + dt.timedelta(days=pick.integer(0, 700))
            ).isoformat()
    if pick.chance(0.3):
        found["platform_name"] = pick.choice(["Kwork", "FL.ru", "Upwork"])
    if pick.chance(0.2):
        found["language"] = pick.choice(["en", "ru"])
    return found


def csv_cell(item: Any, upper: bool = False) -> str:
    if item is None:
        return ""
    if isinstance(item, bool):
        text = "true" if item else "false"
        return text.upper() if upper else text
    if isinstance(item, list):
        return ";".join(item)
    return str(item)


def csv_row(case: dict, upper: bool = False) -> list[str]:
    """A nested case as the cells of a CSV row under `COLUMNS` (TRUE/FALSE when `upper`)."""
    flat = {"case_id": case.get("case_id"), **flatten(case)}
    return [csv_cell(flat.get(column), upper) for column in COLUMNS]


def spoil(pick: Picker, case: dict) -> None:
    """Break `case` in one way the schema refuses (see `SPOILS`), in place."""
    kind = pick.choice(SPOILS)
    facts = list(RULEBOOK.facts.values())
    if kind in ("wrong type", "out of range"):
        if kind == "out of range":
            facts = [f for f in facts if f.type == "integer"]
        fact = pick.choice(facts)
        if kind == "out of range":
            wrong = pick.choice([fact.min - 1, fact.max + 1])
        else:
            wrong = pick.choice(WRONG_TYPES[fact.type])
        holder = case
        if fact.group:
            if not isinstance(case.get(fact.group), dict):
                case[fact.group] = {}
            holder = case[fact.group]
        holder[fact.key if fact.group else fact.name] = wrong
    elif kind == "unknown field":
        case[pick.choice(UNKNOWN_FIELDS)] = pick.choice([1, "x", None, ["conflict"]])
    elif kind == "group not an object":
        groups = sorted({f.group for f in facts if f.group})
        case[pick.choice(groups)] = pick.choice(NOT_OBJECTS)
    elif kind == "no situations":
        case.pop("situations", None)
    else:
        case["case_id"] = pick.choice(WRONG_IDS)


def build(
    pick: Picker,
    index: int = 0,
    *,
    form: str = "nested",
    ids: str | None = None,
    unnamed_every: int | None = None,
    situations: str = "any",
    known: float = 0.5,
    context_chance: float = 0.0,
    invalid: float = 0.0,
) -> Any:
    """The `index`-th case, its choices from `pick` (see the module's docstring)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, not {form!r}")
    if situations not in ("any", "each"):
        raise ValueError(f"situations must be 'any' or 'each', not {situations!r}")
    flat = {
        fact.name: value(pick, fact, index, situations)
        for fact in RULEBOOK.facts.values()
        if fact.required or pick.chance(known)
    }
    flat = consistent(flat)
    if form == "flat":
        return flat
    case = nest(flat)
    if ids is not None and not (unnamed_every and index % unnamed_every == 0):
        case = {"case_id": ids.format(index), **case}
    if context_chance and pick.chance(context_chance):
        case["context"] = context(pick)
    if invalid and pick.chance(invalid):
        for _ in range(pick.integer(1, 3)):
            spoil(pick, case)
    return csv_row(case) if form == "csv" else case


def generate(count: int, seed: int = 4, **options: Any) -> list:
    """`count` cases, the same ones for the same seed and options (see `build`)."""
    pick = RandomPicker(seed)
    return [build(pick, index, **options) for index in range(count)]


def batch_cases(count: int, seed: int = 4) -> list[dict]:
    """The batch tests' and benches' cases: ids `case-00001`..., every 50th without one."""
    return generate(count, seed, ids="case-{:05d}", unnamed_every=50)


def strategy(**options: Any):
    """A hypothesis strategy of the same cases (no ids unless asked): they shrink."""
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        return build(DrawPicker(draw), **options)

    return cases()
