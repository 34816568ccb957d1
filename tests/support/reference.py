"""Straightforward versions of what the service computes the fast way, for the tests to
compare against: the plan on sets of step ids, the questions by trying every answer on every
rule, and the parts of the rules that hold by evaluating each of them.

Nothing here is fast, and nothing here is shared with the service's own shortcuts: each
function follows the rules as service/plan.py and service/questions.py state them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.conditions import Source
from service.model import Rule, Rulebook
from service.plan import PHASE_INDEX, PlannedStep, settle
from service.questions import Option, Question, weight


def given(rulebook: Rulebook, rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    """The steps given by these fired rules (in rulebook order), each with the rules that
    added it: added, not removed, not superseded by another given step (superseding steps
    settled first)."""
    adders: dict[str, list[Rule]] = {}
    removed: set[str] = set()
    for rule in rules:
        for step in rule.add:
            adders.setdefault(step, []).append(rule)
        removed.update(rule.remove)
    for step in removed:
        adders.pop(step, None)
    superseded_by = rulebook.superseded_by
    order: list[str] = []
    seen: set[str] = set()

    def visit(step: str) -> None:
        if step in seen:
            return
        seen.add(step)
        for by in superseded_by.get(step, ()):
            visit(by)
        order.append(step)

    for step in superseded_by:
        visit(step)
    for step in order:
        if step in superseded_by and step in adders:
            if any(by in adders for by in superseded_by[step]):
                del adders[step]
    return adders


def plan(rulebook: Rulebook, rules: Iterable[Rule]) -> tuple[PlannedStep, ...]:
    """The ordered plan: each given step in the phase its rules or the phase shifts say."""
    adders = given(rulebook, rules)
    planned = []
    for step_id, by in adders.items():
        step = rulebook.steps[step_id]
        phase = step.phase
        said = [rule.phase for rule in by if rule.phase]
        if len(said) == len(by):
            phase = min(said, key=PHASE_INDEX.__getitem__)
        for shift in rulebook.phase_shifts:
            if step_id in shift.steps and any(other in adders for other in shift.when_given):
                phase = shift.phase
                break
        planned.append(PlannedStep(step, phase, tuple(by)))
    planned.sort(key=lambda p: (PHASE_INDEX[p.phase], p.step.rank))
    return tuple(planned)


def questions(engine, flat: Mapping[str, Any], given_ids: set[str]) -> list[Question]:
    """The questions for a completed case given `given_ids`: every answer of every unknown
    askable fact filled in with what it implies (an answer that contradicts the case is
    not offered), every rule tried on the result."""
    rulebook = engine.rulebook
    order = engine.planner.step_ids
    position = {name: i for i, name in enumerate(rulebook.facts)}
    asked = []
    for name, answers in engine.asker.answers.items():
        if name in flat:
            continue
        options = []
        changed: set[str] = set()
        for answer in answers:
            trial, contradicted = settle(rulebook, {**flat, name: answer.value})
            if contradicted:
                continue
            steps = {
                p.step.id for p in plan(rulebook, [r for r in rulebook.rules if r.test(trial)])
            }
            add = tuple(s for s in order if s in steps and s not in given_ids)
            remove = tuple(s for s in order if s in given_ids and s not in steps)
            changed.update(add, remove)
            options.append(Option(answer, add, remove))
        if not changed:
            continue
        weights = [weight(rulebook.steps[s]) for s in changed]
        fact = rulebook.facts[name]
        rank = (-fact.priority, -max(weights), -sum(weights), position[name])
        asked.append(Question(fact, tuple(options), rank))
    asked.sort(key=lambda q: q.rank)
    return asked


def part_tests(asker) -> list[tuple[Any, int]]:
    """Each part of the rules (as the questions number them) compiled alone, with its bit."""
    tests = []
    for expression, bit in asker._bits.items():
        source = Source()
        tests.append((source.compile(source.expression(asker._nodes[expression]), "part"), bit))
    return tests


def holding(tests: list[tuple[Any, int]], flat: Mapping[str, Any]) -> int:
    """The mask of the parts that hold for `flat`, each evaluated (`part_tests`)."""
    mask = 0
    for test, bit in tests:
        if test(flat):
            mask |= bit
    return mask
