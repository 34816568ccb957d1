"""The rulebook as plain data: its facts, steps, rules, implications and plan.

service/rulebook.py builds it from the rules folder; the engine compiles it, the questions
and the conflict proof analyse it, the API describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.conditions import All, Predicate, thresholds
from service.messages import Templates


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    description: str
    values: tuple = ()
    min: int | None = None
    max: int | None = None
    required: bool = False
    question: dict | None = None
    labels: dict = field(default_factory=dict)
    priority: int = 0  # questions on higher-priority facts come first

    @property
    def bounds(self) -> tuple[int, int]:
        """An integer fact's (min, max); the schema of facts.yaml requires both."""
        if self.min is None or self.max is None:
            raise TypeError(f"{self.name} is a {self.type} fact, which has no bounds")
        return self.min, self.max

    @property
    def group(self) -> str | None:
        return self.name.split(".")[0] if "." in self.name else None

    @property
    def key(self) -> str:
        return self.name.split(".")[-1]


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    category: str
    order: int
    section: str
    source: str  # article | practice
    phase: str  # now | fallback | next_time, unless a phase shift of plan.yaml moves it
    texts: dict  # lang -> {"title", "detail"}
    rank: tuple  # (category position, order): the sort key of an answer's steps


@dataclass(frozen=True)
class Rule:
    id: str
    file: str
    description: str
    when: All
    source: Any  # the `when` as written, for GET /v1/rules
    add: tuple
    remove: tuple
    reads: tuple
    test: Predicate
    reason: dict  # lang -> a sentence, with {fact} placeholders for integer facts it needs
    cites: dict  # list fact -> the values the condition looks for (an answer cites only those)
    phase: str | None = None  # the phase of the steps it adds, instead of the steps' own


@dataclass(frozen=True)
class Implication:
    """Known facts that settle another: `when` holds, so each fact of `then` has its value."""

    index: int
    when: All
    source: Any  # the `when` as written, for GET /v1/rules
    test: Predicate
    then: dict  # fact -> value
    why: str


@dataclass(frozen=True)
class Conflict:
    steps: tuple  # two step ids that must never be given together
    why: str
    by_supersession: bool = False


@dataclass(frozen=True)
class PhaseShift:
    steps: tuple
    phase: str
    when_given: tuple


@dataclass(frozen=True)
class RuleTest:
    file: str
    name: str
    case: dict
    expect: tuple
    forbid: tuple
    phases: dict  # step -> the phase it must be given in
    messages: dict | None = None  # message id -> the steps it covers (None: not checked)


@dataclass
class Rulebook:
    directory: Path
    facts: dict[str, Fact]
    categories: tuple
    steps: dict[str, Step]
    rules: list[Rule]
    tests: list[RuleTest]
    range_labels: dict
    version: str
    implications: tuple = ()
    conflicts: tuple = ()  # Conflict, declared and implied by supersession
    superseded_by: dict = field(default_factory=dict)  # step -> the steps that supersede it
    phase_shifts: tuple = ()  # PhaseShift, first match wins
    source_labels: dict = field(default_factory=dict)  # step id -> lang -> where it comes from
    messages: Templates | None = None  # messages.yaml, when the folder has one
    rules_reading: dict[str, tuple] = field(init=False)
    cuts: dict[str, tuple] = field(init=False)

    def __repr__(self) -> str:  # the whole rulebook would be a page long (pytest, hypothesis)
        return f"<Rulebook {self.directory} {self.version}: {len(self.rules)} rules>"

    def __post_init__(self):
        reading: dict[str, list] = {}
        for rule in self.rules:
            for name in rule.reads:
                reading.setdefault(name, []).append(rule)
        self.rules_reading = {name: tuple(rules) for name, rules in reading.items()}
        conditions = [r.when for r in self.rules] + [i.when for i in self.implications]
        self.cuts = {
            name: tuple(sorted(set().union(*(thresholds(c, name) for c in conditions))))
            for name, fact in self.facts.items()
            if fact.type == "integer" and name in self.rules_reading
        }
