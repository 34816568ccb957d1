"""From the rules that fired to one plan: which steps are given, in which phase, in what order.

- A step is added by a fired rule, unless a fired rule removes it.
- A step that another given step supersedes is left out (plan.yaml `supersedes`): walking
  away from a scammer leaves out everything that keeps courting the client, and one
  merged step replaces its near-duplicate.
- Each step has a phase: `now`, `fallback` (if that does not work) or `next_time`
  (lessons for future clients). A rule may give its steps another phase (a lesson
  drawn from a delivered project is for next time); when every rule giving a step does,
  the earliest of theirs counts. plan.yaml `phases` then move steps when others are given
  (declining comes after the repair steps; the lessons of a walk-away are for next time).
- The plan is ordered by phase, then by category and order in the catalogue.

Implications (facts.yaml) complete a case before any of this: a delivered project has
had work sent, so the engine sees it known and nobody asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from schemas.rules import PHASES
from service.model import Rule, Rulebook, Step

PHASE_INDEX = {phase: i for i, phase in enumerate(PHASES)}
SETTLED_MEMO = 16384  # the most sets of steps whose supersession a Planner keeps


class PlannedStep(NamedTuple):
    step: Step
    phase: str
    because: tuple  # the fired rules that added it, in rulebook order


class Planner:
    """Per rulebook: the supersession order and phase shifts, applied to fired rules."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self._superseded_by = rulebook.superseded_by
        # Superseding steps before the steps they supersede, so one pass settles them.
        order: list[str] = []
        seen: set[str] = set()

        def visit(step: str) -> None:
            if step in seen:
                return
            seen.add(step)
            for by in self._superseded_by.get(step, ()):
                visit(by)
            order.append(step)

        for step in self._superseded_by:
            visit(step)
        self._supersession_order = tuple(s for s in order if s in self._superseded_by)
        self._shifts: dict[str, list] = {}
        for shift in rulebook.phase_shifts:
            for step in shift.steps:
                self._shifts.setdefault(step, []).append(shift)
        # Per step, its phase shifts (first match wins) with the mask of the steps that move it.
        self._shift_masks: dict[str, tuple] = {}
        # The same as bit masks, for the questions, which settle a plan for every answer:
        # one bit per step, in answer order (so the bits of a mask come out ordered).
        self.step_ids = tuple(sorted(rulebook.steps, key=lambda s: rulebook.steps[s].rank))
        self.step_bit = {step: 1 << i for i, step in enumerate(self.step_ids)}
        self.add_mask = {rule.id: self.mask(rule.add) for rule in rulebook.rules}
        self.remove_mask = {rule.id: self.mask(rule.remove) for rule in rulebook.rules}
        self._superseded_mask = self.mask(self._supersession_order)
        self._supersession_masks = tuple(
            (self.step_bit[step], self.mask(self._superseded_by[step]))
            for step in self._supersession_order
        )
        self._shift_masks = {
            step: tuple((shift.phase, self.mask(shift.when_given)) for shift in shifts)
            for step, shifts in self._shifts.items()
        }
        # Per superseded step's bit: its place in the supersession order, its bit and the
        # mask of the steps that supersede it (settle_mask visits only the steps present).
        self._supersession_entry = {
            bit: (rank, bit, by) for rank, (bit, by) in enumerate(self._supersession_masks)
        }
        # What supersession leaves out depends only on the steps present that supersede or
        # are superseded: kept per such set, as they come (at most SETTLED_MEMO of them).
        self._supersession_steps = self._superseded_mask | self.mask(
            by for step in self._supersession_order for by in self._superseded_by[step]
        )
        self._left_out: dict[int, int] = {}

    def mask(self, step_ids: Iterable[str]) -> int:
        bit = self.step_bit
        mask = 0
        for step in step_ids:
            mask |= bit[step]
        return mask

    def ids(self, mask: int) -> tuple[str, ...]:
        """The step ids of a mask, in answer order."""
        ids = []
        step_ids = self.step_ids
        while mask:
            low = mask & -mask
            ids.append(step_ids[low.bit_length() - 1])
            mask ^= low
        return tuple(ids)

    def settle_mask(self, added: int, removed: int) -> int:
        """The steps given (a mask) when fired rules add `added` and remove `removed`: what
        `present` gives, as a mask."""
        present = added & ~removed
        if not present & self._superseded_mask:
            return present
        key = present & self._supersession_steps
        left_out = self._left_out.get(key)
        if left_out is None:
            left_out = self._supersede(key)
            if len(self._left_out) < SETTLED_MEMO:
                self._left_out[key] = left_out
        return present & ~left_out

    def _supersede(self, present: int) -> int:
        """The mask of the steps that supersession leaves out of `present`."""
        candidates = present & self._superseded_mask
        entry = self._supersession_entry
        entries = []
        while candidates:
            low = candidates & -candidates
            entries.append(entry[low])
            candidates ^= low
        entries.sort()  # in the supersession order: superseding steps settle first
        kept = present
        for _, bit, by in entries:
            if kept & by:
                kept &= ~bit
        return present & ~kept

    def plan(self, rules: Iterable[Rule]) -> tuple[PlannedStep, ...]:
        """The ordered plan for these fired rules (in rulebook order): the steps `given`
        gives, found on bit masks."""
        add_mask, remove_mask = self.add_mask, self.remove_mask
        added = removed = 0
        adders: dict[str, list[Rule]] = {}
        for rule in rules:
            added |= add_mask[rule.id]
            removed |= remove_mask[rule.id]
            for step_id in rule.add:
                by = adders.get(step_id)
                if by is None:
                    adders[step_id] = [rule]
                else:
                    by.append(rule)
        present = self.settle_mask(added, removed)
        steps = self.rulebook.steps
        bit = self.step_bit
        shifts = self._shift_masks
        planned: list[tuple[int, tuple, int, PlannedStep]] = []
        for step_id, by in adders.items():
            if not present & bit[step_id]:
                continue
            step = steps[step_id]
            phase = step.phase
            if len(by) == 1:
                if by[0].phase:
                    phase = by[0].phase
            else:
                said = [rule.phase for rule in by if rule.phase]
                if len(said) == len(by):  # every rule giving it says when
                    phase = min(said, key=PHASE_INDEX.__getitem__)
            if step_id in shifts:
                for shift_phase, when_given in shifts[step_id]:
                    if present & when_given:
                        phase = shift_phase
                        break
            planned.append(
                (PHASE_INDEX[phase], step.rank, len(planned), PlannedStep(step, phase, tuple(by)))
            )
        planned.sort()  # by phase, then category and order (then as given: never compared)
        return tuple(p[3] for p in planned)


def complete(rulebook: Rulebook, flat: Mapping[str, Any]) -> dict:
    """The facts with what the known ones imply added (a given fact is never overridden)."""
    implications = rulebook.implications
    if not implications:
        return dict(flat)
    facts = dict(flat)
    for _ in range(len(implications)):  # chains settle within as many passes
        changed = False
        for implication in implications:
            then = implication.then
            for name in then:
                if name not in facts:  # else it could add nothing: no need to test it
                    break
            else:
                continue
            if implication.test(facts):
                for name, value in then.items():
                    if name not in facts:
                        facts[name] = value
                        changed = True
        if not changed:
            break
    return facts


def settle(rulebook: Rulebook, flat: Mapping[str, Any]) -> tuple[dict, bool]:
    """The facts with what they imply, and whether a given fact contradicts it (the
    questions try this for every answer; `contradictions` says which, for an error)."""
    facts = complete(rulebook, flat)
    if len(facts) > len(flat):  # something is implied: is any of it contradicted?
        for implication in rulebook.implications:
            if implication.test(facts):
                for name, value in implication.then.items():
                    if flat.get(name, value) != value:
                        return facts, True
    elif rulebook.implications:
        for implication in rulebook.implications:
            for name, value in implication.then.items():
                if name in flat and flat[name] != value:  # said otherwise: does it hold?
                    if implication.test(facts):
                        return facts, True
                    break
    return facts, False


def contradictions(rulebook: Rulebook, flat: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors for given facts that contradict what other given facts imply."""
    errors: dict[str, list[str]] = {}
    facts = complete(rulebook, flat)
    for implication in rulebook.implications:
        if not implication.test(facts):
            continue
        for name, value in implication.then.items():
            if name in flat and flat[name] != value:
                causes = sorted(n for n in implication.when.reads if n in facts)
                said = ", ".join(f"{n}: {_show(facts[n])}" for n in causes)
                errors.setdefault(name, []).append(
                    f"Contradicts {said}, which implies {name}: {_show(value)} ({implication.why})."
                )
                for cause in causes:
                    if cause in flat:
                        errors.setdefault(cause, []).append(
                            f"Implies {name}: {_show(value)}, but the case says "
                            f"{_show(flat[name])}."
                        )
    return errors


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
