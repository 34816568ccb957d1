"""The proof that no answer holds two conflicting steps, by a complete search.

The rules' conditions test one fact at a time, and every fact has finitely many value
classes that a condition can tell apart: a boolean is true, false or unknown; an enum
one of its values or unknown; a number one of the ranges cut at every threshold any
condition uses, or unknown; a list fact (`situations`) any non-empty set of its values.
So "can steps A and B be given together?" is a Boolean satisfiability question over
those classes, and a SAT solver (minisat, through python-sat) answers it exactly: a
model is a witness case, and "unsatisfiable" is a proof that covers every case, not a
sample of them.

The encoding follows the engine and the plan (service/plan.py) exactly:
- exactly one class per scalar fact; the implications of facts.yaml as clauses;
- a rule fires exactly when its condition holds (one variable per condition node);
- a step is added when a firing rule adds it and no firing rule removes it, and
  present when added and no present step supersedes it (plan.yaml).
Witnesses are decoded into cases; tests evaluate them through the real engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysat.solvers import Solver

from schemas.case import nest
from service.conditions import All, Any_, Check, thresholds, to_python
from service.model import Conflict, Rulebook

_UNKNOWN = object()


@dataclass(frozen=True)
class Witness:
    """A case in which both steps of a declared conflict are given."""

    conflict: Conflict
    case: dict  # nested, as a request would send it
    rules: tuple  # (rule id, file, added step) of the firing rules that add either step
    directory: Path

    def message(self) -> str:
        a, b = self.conflict.steps
        files = [file for _, file, step in self.rules if step == a] or ["plan.yaml"]
        by = ", ".join(f"{rule} ({file})" for rule, file, _ in self.rules)
        head = self.directory / files[0]
        return (
            f"{head}: steps {a} and {b} can both be given, e.g. for "
            f"{json.dumps(self.case, ensure_ascii=False)} (added by {by})"
        )


class Encoding:
    """The rulebook as clauses; `present[step]` is the variable of "the step is given"."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.count = 0
        self.clauses: list[list[int]] = []
        self.true = self._new()
        self.clauses.append([self.true])
        self.classes: dict[str, list[tuple[Any, int]]] = {}
        self.members: dict[str, tuple[dict, int]] = {}  # list fact -> ({value: var}, unknown)
        conditions = [r.when for r in rulebook.rules] + [i.when for i in rulebook.implications]
        for fact in rulebook.facts.values():
            if fact.type == "list":
                self._list_fact(fact)
            else:
                cuts = (
                    set().union(*(thresholds(c, fact.name) for c in conditions))
                    if fact.type == "integer"
                    else set()
                )
                self._scalar_fact(fact, cuts)
        self.fires = {rule.id: self._node(rule.when) for rule in rulebook.rules}
        for implication in rulebook.implications:
            holds = self._node(implication.when)
            for name, value in implication.then.items():
                self.clauses.append([-holds, self._class_of(name, value)])
        adders: dict[str, list[int]] = {}
        removers: dict[str, list[int]] = {}
        for rule in rulebook.rules:
            for step in rule.add:
                adders.setdefault(step, []).append(self.fires[rule.id])
            for step in rule.remove:
                removers.setdefault(step, []).append(self.fires[rule.id])
        self.added = {
            step: self._and([self._or(adders.get(step, [])), -self._or(removers.get(step, []))])
            for step in rulebook.steps
        }
        self.present: dict[str, int] = {}
        for step in rulebook.steps:
            self._present(step)

    # --- variables and gates --------------------------------------------------

    def _new(self) -> int:
        self.count += 1
        return self.count

    def _or(self, literals: list[int]) -> int:
        literals = list(dict.fromkeys(literals))
        if not literals:
            return -self.true
        if len(literals) == 1:
            return literals[0]
        out = self._new()
        self.clauses.append([-out, *literals])
        self.clauses.extend([-lit, out] for lit in literals)
        return out

    def _and(self, literals: list[int]) -> int:
        return -self._or([-lit for lit in literals])

    def _present(self, step: str) -> int:
        if step not in self.present:  # supersession has no cycle (checked by the loader)
            by = [self._present(t) for t in self.rulebook.superseded_by.get(step, ())]
            self.present[step] = self._and([self.added[step], *(-v for v in by)])
        return self.present[step]

    # --- facts ------------------------------------------------------------------

    def _scalar_fact(self, fact, cuts: set) -> None:
        if fact.type == "boolean":
            values: list[Any] = [True, False]
        elif fact.type == "enum":
            values = list(fact.values)
        else:  # integer: one representative (the lowest value) per range
            values = sorted({fact.min} | {c for c in cuts if fact.min < c <= fact.max})
        if not fact.required:
            values.append(_UNKNOWN)
        classes = [(value, self._new()) for value in values]
        variables = [var for _, var in classes]
        self.clauses.append(variables)
        for i, a in enumerate(variables):
            self.clauses.extend([-a, -b] for b in variables[i + 1 :])
        self.classes[fact.name] = classes

    def _list_fact(self, fact) -> None:
        members = {value: self._new() for value in fact.values}
        unknown = -self.true if fact.required else self._new()
        self.clauses.append([unknown, *members.values()])
        self.clauses.extend([-unknown, -var] for var in members.values())
        self.members[fact.name] = (members, unknown)

    def _class_of(self, name: str, value: Any) -> int:
        classes = self.classes[name]
        if self.rulebook.facts[name].type == "integer":
            lows = [(low, var) for low, var in classes if low is not _UNKNOWN and low <= value]
            return max(lows, key=lambda item: item[0])[1]
        return next(var for v, var in classes if v is not _UNKNOWN and v == value)

    # --- conditions -------------------------------------------------------------

    def _node(self, node) -> int:
        if isinstance(node, All):
            return self._and([self._node(p) for p in node.parts])
        if isinstance(node, Any_):
            return self._or([self._node(p) for p in node.parts])
        return self._check(node)

    def _check(self, check: Check) -> int:
        if check.fact in self.members:
            members, unknown = self.members[check.fact]
            tests = []
            for op, value in check.ops:
                if op == "includes":
                    tests.append(members[value])
                elif op == "includes_any":
                    tests.append(self._or([members[v] for v in value]))
                elif op == "excludes":
                    tests.extend(-members[v] for v in value)
                elif op == "known":
                    tests.append(-unknown if value else unknown)
            holds = self._and(tests)
            return self._or([holds, unknown]) if check.if_unknown else holds
        test = to_python(check)
        name = check.fact
        return self._or(
            [
                var
                for value, var in self.classes[name]
                if test({} if value is _UNKNOWN else {name: value})
            ]
        )

    # --- witnesses ----------------------------------------------------------------

    def smallest(self, solver: Solver, assumptions: list[int]) -> set[int]:
        """A model with as few known facts and situations as greedily possible, so that
        a witness reads as a case a person would write; the true variables."""
        kept = list(assumptions)
        for classes in self.classes.values():
            unknown = [var for value, var in classes if value is _UNKNOWN]
            if unknown and solver.solve(assumptions=kept + unknown):
                kept += unknown
        for members, _ in self.members.values():
            for var in members.values():
                if solver.solve(assumptions=kept + [-var]):
                    kept.append(-var)
        solver.solve(assumptions=kept)
        return {lit for lit in solver.get_model() if lit > 0}

    def case(self, model: set[int]) -> dict:
        """The case a model describes: unknown facts left out, dotted names nested."""
        flat: dict[str, Any] = {}
        for name, classes in self.classes.items():
            value = next(v for v, var in classes if var in model)
            if value is not _UNKNOWN:
                flat[name] = value
        for name, (members, unknown) in self.members.items():
            if unknown not in model:
                flat[name] = [v for v, var in members.items() if var in model]
        return nest(flat)


def find_conflicts(rulebook: Rulebook) -> list[Witness]:
    """A witness case for each declared conflict that some case can give; [] is a proof."""
    if not rulebook.conflicts:
        return []
    encoding = Encoding(rulebook)
    found = []
    with Solver(name="minisat22", bootstrap_with=encoding.clauses) as solver:
        for conflict in rulebook.conflicts:
            a, b = conflict.steps
            assumptions = [encoding.present[a], encoding.present[b]]
            if solver.solve(assumptions=assumptions):
                model = encoding.smallest(solver, assumptions)
                rules = tuple(
                    (r.id, r.file, step)
                    for r in rulebook.rules
                    if _holds(encoding.fires[r.id], model)
                    for step in (a, b)
                    if step in r.add
                )
                found.append(Witness(conflict, encoding.case(model), rules, rulebook.directory))
    return found


def _holds(literal: int, model: set[int]) -> bool:
    return literal in model if literal > 0 else -literal not in model


def never_given(rulebook: Rulebook) -> tuple[list[str], list[str]]:
    """Steps no case can give, and rules no case can fire: worth a line in `check`."""
    encoding = Encoding(rulebook)
    with Solver(name="minisat22", bootstrap_with=encoding.clauses) as solver:
        steps = [s for s, var in encoding.present.items() if not solver.solve(assumptions=[var])]
        rules = [r for r, var in encoding.fires.items() if not solver.solve(assumptions=[var])]
    return steps, rules
