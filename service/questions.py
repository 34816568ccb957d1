"""Follow-up questions: which unknown facts would change the advice, and how.

Everything here is derived from the rules' own conditions: the facts a rule reads,
the values an enumeration or a boolean can take, and the thresholds at which a
number's tests change outcome (which split it into ranges such as "fewer than 5" /
"5 or more"). A new rule that reads a new fact makes that fact askable with no
other change.

Trying every answer through the engine would cost one engine run per option (dozens
per case), so each answer is tried on the rules' Python compilation instead, and only
on the rules that answer can flip: a rule whose failing conditions do not all read the
fact keeps its outcome whatever the answer. Tests prove, against the real engine, that
every listed option changes the steps exactly as it says and that unlisted facts
change nothing.

Ranking: a fact's `priority` (facts.yaml) first: the contract, which decides whether a
formal demand or only a warning against threats fits, is always asked first. Then the
question whose answers can change the most serious step
(escalation 5, a warning 4, disengagement 3, other actions 2, prevention 1), then the
one whose answers change the greatest total weight of steps, then the order of the
facts in facts.yaml.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

from service.conditions import All, Any_, Node, Source, thresholds, to_python
from service.model import Fact, Rule, Rulebook, Step
from service.plan import Planner, settle

CATEGORY_WEIGHT = {"escalate": 5, "disengage": 3, "prevent": 1}
KIND_WEIGHT = {"avoid": 4}
DEFAULT_WEIGHT = 2


def weight(step: Step) -> int:
    return max(CATEGORY_WEIGHT.get(step.category, DEFAULT_WEIGHT), KIND_WEIGHT.get(step.kind, 0))


class Answer(NamedTuple):
    """One possible answer to a question: a value to put in the case, and its label."""

    value: Any
    labels: dict  # lang -> text


class Option(NamedTuple):
    answer: Answer
    add: tuple  # step ids, in catalogue order
    remove: tuple


class Question(NamedTuple):
    fact: Fact
    options: tuple  # Option
    rank: tuple  # the sort key: best first


class _Probe(NamedTuple):
    """How one answer-able fact can flip one rule."""

    rule: Rule
    rest: int  # bit mask of the rule's top-level parts that do not read the fact
    static: bool  # the rule's outcome per answer is known in advance (below), else `parts`
    start: tuple  # the answers (indices) under which the rule fires
    stop: tuple  # and those under which it does not
    either: int  # bit mask: when one of these holds, the rule fires under every answer
    parts: tuple  # for the other rules: the parts' predicates, tried with the answer in


class Asker:
    """Per rulebook: the possible answers of each fact, and the analysis of one case.

    At start-up every top-level part of every rule gets a bit, and one generated function
    evaluates all of them on a case into a bit mask. A rule can change its outcome under an
    answer to fact F only if all its parts that do not read F hold (`rest`); its outcome is
    then that of its parts on F, known in advance for each answer when they read F alone,
    or are an `any` of conditions on F alone and on other facts (whose bits say whether the
    rule fires anyway). Other shapes are tried on the case with each answer filled in.
    """

    def __init__(self, rulebook: Rulebook, planner: Planner):
        self.rulebook = rulebook
        self.planner = planner
        self._rules = {rule.id: rule for rule in rulebook.rules}
        self._implying = frozenset().union(*(i.when.reads for i in rulebook.implications))
        self.answers = {
            name: answers
            for name, fact in rulebook.facts.items()
            if name in rulebook.rules_reading and (answers := self._answers(fact))
        }
        self._unchanged = {
            name: tuple(Option(a, (), ()) for a in answers)
            for name, answers in self.answers.items()
        }
        self._position = {name: i for i, name in enumerate(rulebook.facts)}
        # Steps are bit masks here (Planner.step_bit): an answer's plan is settled with a
        # few integer operations instead of sets, once per distinct set of flipped rules.
        self._weights = tuple(weight(rulebook.steps[s]) for s in planner.step_ids)
        self._named: dict[int, tuple] = {0: ()}  # mask of steps -> their ids
        self._weighed: dict[int, tuple] = {}  # mask of steps -> (-max, -sum) of their weights
        source = Source()
        self._bits: dict[str, int] = {}  # expression -> its bit in the mask of parts
        self._reads: dict[str, frozenset] = {}  # expression -> the facts it reads
        self._nodes: dict[str, Node] = {}  # expression -> its condition
        self._source = source
        self._probes = {
            name: tuple(self._probe(rule, name, answers) for rule in rulebook.rules_reading[name])
            for name, answers in self.answers.items()
        }
        # Every rule as the mask of its parts: it fires when they all hold (answers that
        # imply other facts are tried on every rule at once).
        self._rule_parts = tuple(
            (rule.id, sum({self._bit(p) for p in rule.when.parts})) for rule in rulebook.rules
        )
        # The probes as plain tuples, in the order ask() unpacks them (faster than fields).
        self._plain_probes = tuple(
            (
                name,
                tuple(
                    (p.rest, p.static, p.either, p.start, p.stop, p.rule.id, p.parts)
                    for p in probes
                ),
            )
            for name, probes in self._probes.items()
        )
        self._fired_masks = _fired_masks(
            (parts, planner.add_mask[rule_id], planner.remove_mask[rule_id])
            for rule_id, parts in self._rule_parts
        )
        # The parts that hold for a case, as a mask, from tables per fact (PartMasks).
        self.part_masks = PartMasks(source, self._bits, self._nodes, rulebook.facts)
        self._parts = self.part_masks.holding
        # Rules as bits too (rulebook order), with the steps each adds and removes: the rules
        # an answer flips are a mask, and so is the key of the plans already settled.
        self._rule_bit = {rule.id: 1 << i for i, rule in enumerate(rulebook.rules)}
        self._rule_add = tuple(planner.add_mask[rule.id] for rule in rulebook.rules)
        self._rule_remove = tuple(planner.remove_mask[rule.id] for rule in rulebook.rules)
        # Per askable fact, how ask() finds the rules each answer flips: when every probe's
        # outcome is known per answer, one generated function gives the mask of the rules
        # that an answer can flip (their other parts hold, no other alternative holds) and
        # a mask per answer of those that fire under it; else the probes are tried.
        askable: list[tuple[str, Any, Any, Any]] = []  # name, function, masks, probes
        for name, plain in self._plain_probes:
            probes = self._probes[name]
            if name in self._implying:
                askable.append((name, None, None, None))
            elif all(p.static for p in probes):
                outcomes = tuple(
                    sum(self._rule_bit[p.rule.id] for p in probes if k in p.start)
                    for k in range(len(self.answers[name]))
                )
                active = _active_rules(probes, self._rule_bit, name)
                askable.append((name, active, outcomes, None))
            else:
                askable.append((name, None, None, plain))
        self._askable = tuple(askable)
        # Facts whose answers imply others: the facts an answer can set (the fact and what
        # it implies, in chains), and the rules that read any of them. The other rules fire
        # under every answer as they do for the case: their steps are found once per case,
        # by group (rules alike in which of these facts' answers can change them).
        self._changing: dict[str, tuple] = {}
        self._implication_facts = tuple(
            sorted({f for i in rulebook.implications for f in (*i.when.reads, *i.then)})
        )
        self._implied: dict[tuple, tuple] = {}  # (fact, answer, projection) -> what it sets
        groups: dict[frozenset, list] = {}
        closures: dict[str, frozenset] = {}
        for name in self.answers:
            if name not in self._implying:
                continue
            closure = {name}
            grown = True
            while grown:
                grown = False
                for implication in rulebook.implications:
                    if implication.when.reads & closure and not implication.then.keys() <= closure:
                        closure |= implication.then.keys()
                        grown = True
            closures[name] = frozenset(closure)
        for i, rule in enumerate(rulebook.rules):
            signature = frozenset(n for n, c in closures.items() if c.intersection(rule.reads))
            groups.setdefault(signature, []).append(i)
        signatures = list(groups)
        parts_of = dict(self._rule_parts)
        self._groups = _group_masks(
            [
                [
                    (parts_of[rulebook.rules[i].id], self._rule_add[i], self._rule_remove[i])
                    for i in groups[signature]
                ]
                for signature in signatures
            ]
        )
        for name, reach in closures.items():
            reading = [
                (parts_of[rule.id], self._rule_add[i], self._rule_remove[i])
                for i, rule in enumerate(rulebook.rules)
                if reach.intersection(rule.reads)
            ]
            others = tuple(g for g, signature in enumerate(signatures) if name not in signature)
            self._changing[name] = (reach, _group_masks([reading]), others)

    def _bit(self, node) -> int:
        expression = self._source.expression(node)
        if expression not in self._bits:  # rules share parts ("situations includes conflict")
            self._bits[expression] = 1 << len(self._bits)
            self._reads[expression] = node.reads
            self._nodes[expression] = node
        return self._bits[expression]

    def _probe(self, rule: Rule, name: str, answers: tuple) -> _Probe:
        rest = 0
        for part in rule.when.parts:
            bit = self._bit(part)
            if name not in part.reads:
                rest |= bit
        on_fact = [p for p in rule.when.parts if name in p.reads]
        either = 0
        if all(p.reads == {name} for p in on_fact):
            outcomes = tuple(all(to_python(p)({name: a.value}) for p in on_fact) for a in answers)
        elif (
            len(on_fact) == 1
            and isinstance(on_fact[0], Any_)
            and all(c.reads == {name} or name not in c.reads for c in on_fact[0].parts)
        ):
            # `any` of conditions on this fact and on others: when one of the others holds,
            # the rule fires whatever the answer; else as the conditions on this fact say.
            mine = [c for c in on_fact[0].parts if c.reads == {name}]
            for child in on_fact[0].parts:
                if name not in child.reads:
                    either |= self._bit(child)
            outcomes = tuple(any(to_python(c)({name: a.value}) for c in mine) for a in answers)
        else:
            tests = tuple(to_python(p, f"{rule.id} on {name}") for p in on_fact)
            return _Probe(rule, rest, False, (), (), 0, tests)
        start = tuple(k for k, fires in enumerate(outcomes) if fires)
        stop = tuple(k for k, fires in enumerate(outcomes) if not fires)
        return _Probe(rule, rest, True, start, stop, either, ())

    def _answers(self, fact: Fact) -> tuple:
        if fact.type == "boolean":
            return (Answer(True, fact.labels["yes"]), Answer(False, fact.labels["no"]))
        if fact.type == "enum":
            return tuple(Answer(v, fact.labels[v]) for v in fact.values)
        if fact.type == "integer":
            return self._ranges(fact)
        return ()  # a list fact has too many answers to offer; only `situations` is one

    def _ranges(self, fact: Fact) -> tuple:
        low, high = fact.bounds
        cuts = [c for c in self.rulebook.cuts.get(fact.name, ()) if low < c <= high]
        if not cuts:
            return ()
        bounds = [low, *cuts, high + 1]
        labels = self.rulebook.range_labels
        answers = []
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            last = hi - 1
            if i == len(bounds) - 2:
                template, value = labels["from_"], lo
            elif i == 0:
                template, value = labels["below"], (lo + last) // 2
            else:
                template, value = labels["between"], (lo + last) // 2
            if lo == last:
                text = {lang: str(lo) for lang in template}
            else:
                text = {lang: t.format(lo=lo, hi=hi, last=last) for lang, t in template.items()}
            answers.append(Answer(value, text))
        return tuple(answers)

    def ask(self, flat: Mapping[str, Any], fired: frozenset, given: set) -> list[Question]:
        """The questions for the unknown facts of `flat`, best first.

        `flat` is the case with its implied facts; `fired` and `given` are what the engine
        found for it: the ids of the rules that fired and of the steps given.
        """
        holding = self._parts(flat)
        planner = self.planner
        given_mask = planner.mask(given)
        rule_bit = self._rule_bit
        fired_bits = 0
        for rule_id in fired:
            fired_bits |= rule_bit[rule_id]
        base = None  # the steps the fired rules add and remove, once needed
        groups = None  # the steps each group of rules adds and removes, once needed
        projection: tuple = ()  # the facts implications read or set, as `_tried` keys them
        questions = []
        tried: dict[int, int] = {}  # rules that fire (a mask) -> the steps given (a mask)
        for name, active_rules, outcomes, probes in self._askable:
            if name in flat:
                continue
            if active_rules is not None:
                active = active_rules(holding)
                if not active:
                    continue  # no answer flips any rule
                flipped_by = [active & (fires ^ fired_bits) for fires in outcomes]
            elif probes is None:  # an answer may imply more facts: try it whole
                if groups is None:
                    groups = self._groups(holding)
                    projection = tuple(
                        tuple(v) if type(v := flat.get(fact, _MISSING)) is list else v
                        for fact in self._implication_facts
                    )
                question = self._tried(name, flat, given_mask, holding, groups, projection)
                if question:
                    questions.append(question)
                continue
            else:
                flipped_by = self._flipped(name, probes, flat, fired, holding)
            changes = {}
            for k, flipped in enumerate(flipped_by):
                if not flipped:
                    continue
                steps = tried.get(flipped)
                if steps is None:  # other facts' answers often flip the very same rules
                    stops = flipped & fired_bits
                    if stops & (stops - 1):  # rules stop firing: the others, tried again
                        added, removed = self._steps_of(fired_bits ^ flipped, 0, 0)
                    else:  # at most one rule stops: the rest is known, and what starts adds
                        if base is None:
                            base = self._base(fired_bits)
                        added, removed, added_once, removed_once = base
                        if stops:  # what only that rule adds or removes is gone
                            i = stops.bit_length() - 1
                            added &= ~(self._rule_add[i] & added_once)
                            removed &= ~(self._rule_remove[i] & removed_once)
                        added, removed = self._steps_of(flipped ^ stops, added, removed)
                    steps = tried[flipped] = planner.settle_mask(added, removed)
                changes[k] = steps
            if changes:
                question = self._question(name, changes, given_mask, ())
                if question:
                    questions.append(question)
        questions.sort(key=lambda q: q.rank)
        return questions

    def _steps_of(self, rules: int, added: int, removed: int) -> tuple[int, int]:
        """`added` and `removed` with the steps that these rules (a mask) add and remove."""
        adds, removes = self._rule_add, self._rule_remove
        while rules:
            low = rules & -rules
            i = low.bit_length() - 1
            added |= adds[i]
            removed |= removes[i]
            rules ^= low
        return added, removed

    def _base(self, rules: int) -> tuple[int, int, int, int]:
        """The steps these rules (a mask) add and remove, and those that only one of them
        adds, or removes."""
        adds, removes = self._rule_add, self._rule_remove
        added = removed = added_more = removed_more = 0
        while rules:
            low = rules & -rules
            i = low.bit_length() - 1
            added_more |= added & adds[i]
            added |= adds[i]
            removed_more |= removed & removes[i]
            removed |= removes[i]
            rules ^= low
        return added, removed, added & ~added_more, removed & ~removed_more

    def _flipped(
        self, name: str, probes: tuple, flat: Mapping[str, Any], fired: frozenset, holding: int
    ) -> list[int]:
        """Per answer, the mask of the rules it flips, each probe tried in turn (the shapes of
        conditions whose outcome per answer is not known in advance)."""
        flipped_by = [0] * len(self.answers[name])
        rule_bit = self._rule_bit
        for rest, static, either, start, stop, rule_id, parts in probes:
            if holding & rest != rest:
                continue  # a part that does not read this fact fails: no answer helps
            was = rule_id in fired
            if static:
                if holding & either:
                    continue  # it fires whatever the answer, as it does now
                flipping = stop if was else start
            else:
                trial = dict(flat)
                flipping = tuple(
                    k
                    for k, answer in enumerate(self.answers[name])
                    if _tried_with(trial, name, answer.value, parts) is not was
                )
            for k in flipping:
                flipped_by[k] |= rule_bit[rule_id]
        return flipped_by

    def _tried(
        self,
        name: str,
        flat: Mapping[str, Any],
        given: int,
        holding: int,
        groups: tuple,
        projection: tuple,
    ) -> Question | None:
        """Each answer filled in with what it implies, every rule tried on the result;
        answers that contradict the known facts are not offered. `holding`: the parts that
        hold for `flat`; only those reading a fact the answer sets are evaluated again, and
        only the rules that read such a fact (the others add and remove, by group, what
        `groups` says they do for `flat`). What an answer implies, and whether it
        contradicts the case, depends only on the facts that implications read or set
        (`projection`: their values in `flat`), so it is found once per such values."""
        changes = {}
        impossible = []
        update = self.part_masks.update
        closure, reading, others = self._changing[name]
        rest_added = rest_removed = 0
        for g in others:
            rest_added |= groups[2 * g]
            rest_removed |= groups[2 * g + 1]
        implied = self._implied
        for k, answer in enumerate(self.answers[name]):
            key = (name, k, projection)
            found = implied.get(key)
            if found is None:
                trial = dict(flat)
                trial[name] = answer.value
                trial, contradicted = settle(self.rulebook, trial)
                if contradicted:
                    found = (None, False)
                else:
                    sets = tuple((fact, trial[fact]) for fact in trial.keys() - flat.keys())
                    found = (sets, {fact for fact, _ in sets} <= closure)
                if len(implied) < IMPLIED_MEMO:
                    implied[key] = found
            sets, within = found
            if sets is None:
                impossible.append(k)
                continue
            trial = dict(flat)
            trial.update(sets)
            now = holding
            for fact, _ in sets:
                now = update(now, trial, fact)
            if within:
                added, removed = reading(now)
                added |= rest_added
                removed |= rest_removed
            else:  # a case whose facts were not completed: every rule, tried again
                added, removed = self._fired_masks(now)
            changes[k] = self.planner.settle_mask(added, removed)
        return self._question(name, changes, given, tuple(impossible))

    def _question(self, name: str, changes: dict, given: int, impossible: tuple) -> Question | None:
        """The question on `name`, from the steps each answer `k` would give (`changes[k]`,
        a mask of steps; answers not in it change nothing), or None when no answer changes
        anything. `given`: the mask of the steps the case is given."""
        options = None
        changed = 0
        named = self._named
        for k, steps in changes.items():
            add = steps & ~given
            remove = given & ~steps
            if add or remove:
                if options is None:
                    options = list(self._unchanged[name])
                changed |= add | remove
                add_ids = named.get(add)
                if add_ids is None:
                    add_ids = self._ids(add)
                remove_ids = named.get(remove)
                if remove_ids is None:
                    remove_ids = self._ids(remove)
                options[k] = _new(Option, (options[k].answer, add_ids, remove_ids))
        if options is None:
            return None
        if impossible:
            options = [o for k, o in enumerate(options) if k not in impossible]
        weighed = self._weighed.get(changed)
        if weighed is None:
            weighed = self._weigh(changed)
        fact = self.rulebook.facts[name]
        return _new(
            Question,
            (fact, tuple(options), (-fact.priority, *weighed, self._position[name])),
        )

    def _ids(self, mask: int) -> tuple[str, ...]:
        """The step ids of a mask (Planner.ids), kept for the next time (at most NAMED_MEMO)."""
        ids = self.planner.ids(mask)
        if len(self._named) < NAMED_MEMO:
            self._named[mask] = ids
        return ids

    def _weigh(self, changed: int) -> tuple[int, int]:
        """Minus the greatest and minus the total weight of the steps of `changed`, the
        middle of a question's rank (kept for the next time, at most NAMED_MEMO)."""
        weights = []
        all_weights = self._weights
        bits = changed
        while bits:
            low = bits & -bits
            weights.append(all_weights[low.bit_length() - 1])
            bits ^= low
        weighed = (-max(weights), -sum(weights))
        if len(self._weighed) < NAMED_MEMO:
            self._weighed[changed] = weighed
        return weighed


def _tried_with(trial: dict, name: str, value: Any, parts: tuple) -> bool:
    """Whether all `parts` hold with `name` set to `value` in `trial` (which keeps it)."""
    trial[name] = value
    return all(t(trial) for t in parts)


def _active_rules(probes: tuple, rule_bit: Mapping[str, int], name: str) -> Callable[[int], int]:
    """A function of the mask of parts that hold, giving the mask of the rules (of these
    probes, whose outcome per answer is known) that an answer to `name` can flip: those whose
    parts that do not read it hold, and none of whose other alternatives holds. The masks
    are bound as default arguments (locals), so that large rulebooks write no long numbers."""
    constants: dict[str, int] = {}
    lines = []
    for i, probe in enumerate(probes):
        constants[f"_r{i}"], constants[f"_g{i}"] = probe.rest, rule_bit[probe.rule.id]
        test = f"h & _r{i} == _r{i}"
        if probe.either:
            constants[f"_e{i}"] = probe.either
            test += f" and not h & _e{i}"
        lines.append(f"    if {test}: a |= _g{i}")
    bound = "".join(f", {c}={c}" for c in constants)
    source = f"def _active(h{bound}):\n    a = 0\n" + "\n".join(lines) + "\n    return a\n"
    namespace: dict = dict(constants)
    exec(compile(source, f"<flips of {name}>", "exec"), namespace)  # noqa: S102 - integers only
    return namespace["_active"]


def _group_masks(groups: list) -> Callable[[int], tuple]:
    """A function of the mask of parts that hold, giving for each group of rules (each a
    list of (parts, add, remove) masks) the steps its rules whose parts all hold add and
    remove: (added, removed) of the first group, then of the second, ... The masks are
    bound as default arguments (locals), so that large rulebooks write no long numbers."""
    constants: dict[str, int] = {}
    lines = []
    for g, rules in enumerate(groups):
        lines.append(f"    a{g} = r{g} = 0")
        for parts, add, remove in rules:
            i = len(constants)
            constants[f"_p{i}"] = parts
            constants[f"_a{i}"] = add
            then = f"a{g} |= _a{i}"
            if remove:
                constants[f"_x{i}"] = remove
                then += f"; r{g} |= _x{i}"
            lines.append(f"    if now & _p{i} == _p{i}: {then}")
    result = ", ".join(f"a{g}, r{g}" for g in range(len(groups)))
    lines.append(f"    return ({result},)" if groups else "    return ()")
    bound = "".join(f", {c}={c}" for c in constants)
    source = f"def _groups(now{bound}):\n" + "\n".join(lines) + "\n"
    namespace: dict = dict(constants)
    exec(compile(source, "<groups of rules>", "exec"), namespace)  # noqa: S102 - integers only
    return namespace["_groups"]


def _fired_masks(rules) -> Callable[[int], tuple[int, int]]:
    """A function of the mask of parts that hold, giving the masks of the steps that the
    rules whose parts all hold add and remove; generated as one statement per rule, with
    the masks as constants (three times as fast as a loop over them)."""
    lines = ["def _fired(now):", "    added = removed = 0"]
    for parts, add, remove in rules:
        then = f"added |= {add:#x}" + (f"; removed |= {remove:#x}" if remove else "")
        lines.append(f"    if now & {parts:#x} == {parts:#x}: {then}")
    lines.append("    return added, removed")
    namespace: dict = {}
    exec(compile("\n".join(lines), "<fired rules>", "exec"), namespace)  # noqa: S102 - integers only
    return namespace["_fired"]


_new = tuple.__new__  # a named tuple from a tuple, without its __new__'s argument handling
NAMED_MEMO = 16384  # the most masks of steps whose ids, and weights, an Asker keeps
IMPLIED_MEMO = 16384  # the most (answer, facts) whose implications an Asker keeps
_MISSING = object()
LIST_MEMO = 4096  # the most item sets of one list fact whose parts' mask is kept


class PartMasks:
    """The mask of the rules' parts that hold for a case, from per-fact tables.

    A part that reads one fact holds or not according to that fact's value alone: for a
    boolean or an enumeration, a table built at start-up gives its bits per value; for an
    integer, per range between the thresholds of its tests (`thresholds`: no test changes
    outcome inside one); for a list, per item set, kept as they come (at most LIST_MEMO
    per fact). Parts that read several facts are evaluated by one generated function.
    """

    def __init__(self, source: Source, bits: Mapping[str, int], nodes: Mapping, facts: Mapping):
        single: dict[str, dict[str, int]] = {}
        multi: dict[str, int] = {}
        nodes = dict(nodes)
        self.real = sum(bits.values())  # the parts' bits; helper bits lie above them
        helper = self.real + 1
        # Parts on several facts that are an `any` or `all` of conditions on one fact each:
        # each condition gets a helper bit in its fact's table, and the part holds when
        # one (any) or all of those bits do.
        self._combined: list[tuple[int, int, bool]] = []  # (bit, helper bits, any)
        for expression, bit in bits.items():  # parts on one fact first: a helper reuses them
            if len(nodes[expression].reads) == 1:
                single.setdefault(next(iter(nodes[expression].reads)), {})[expression] = bit
        for expression, bit in bits.items():
            node = nodes[expression]
            if len(node.reads) == 1:
                continue
            if isinstance(node, (Any_, All)) and all(len(c.reads) == 1 for c in node.parts):
                helpers = 0
                for child in node.parts:
                    child_expression = source.expression(child)
                    own = single.setdefault(next(iter(child.reads)), {})
                    if child_expression not in own:
                        own[child_expression] = helper
                        nodes[child_expression] = child
                        helper <<= 1
                    helpers |= own[child_expression]
                self._combined.append((bit, helpers, isinstance(node, Any_)))
            else:
                multi[expression] = bit
        # fact -> (mask of its parts, table, integer thresholds or None, generated test)
        self.facts: dict[str, tuple] = {}
        self.absent = 0  # the single-fact parts that hold when every fact is unknown
        for name, own in single.items():
            test = source.compile_mask(own, f"parts on {name}")
            kind = facts[name].type
            cuts: tuple | None = None
            table: dict = {}
            if kind == "boolean":
                table = {value: test({name: value}) for value in (True, False)}
            elif kind == "enum":
                table = {value: test({name: value}) for value in facts[name].values}
            elif kind == "integer":
                cuts = tuple(sorted(set().union(*(thresholds(nodes[e], name) for e in own))))
                table = {
                    i: test({name: cuts[i - 1] if i else (cuts[0] - 1 if cuts else 0)})
                    for i in range(len(cuts) + 1)
                }
            self.facts[name] = (sum(own.values()), table, cuts, test)
            self.absent |= test({})
        # Parts on several facts, as expressions (for `update`: the combined ones too).
        several = {e: b for e, b in bits.items() if len(nodes[e].reads) > 1}
        self.multi_reading: dict[str, tuple[int, Callable]] = {}
        for name in facts:
            reading = {e: b for e, b in several.items() if name in nodes[e].reads}
            if reading:
                self.multi_reading[name] = (
                    sum(reading.values()),
                    source.compile_mask(reading, f"parts reading {name} and others"),
                )
        # The mask of the parts that hold for a case's flattened facts.
        self.holding: Callable[[Mapping[str, Any]], int] = self._compile(source, multi)

    def _compile(self, source: Source, multi: Mapping[str, int]) -> Callable[[Mapping], int]:
        """`holding` as one generated function: a table lookup per known fact (a call for
        a value outside the tables), then the parts that read several facts."""
        lines = [f"    m = {source.constant(self.absent)}"]
        for name, entry in self.facts.items():
            mask, table, cuts, test = entry
            keep = source.constant(~mask)
            lines.append(f"    v = f.get({name!r}, _MISSING)")
            lines.append("    if v is not _MISSING:")
            if cuts is not None:
                at = f"{source.constant(bisect_right)}({source.constant(cuts)}, v)"
                lines.append(f"        m = (m & {keep}) | {source.constant(table)}[{at}]")
            else:
                slow = source.constant(partial(self._bits_of, entry, name))
                if table:
                    lines.append(f"        b = {source.constant(table)}.get(v)")
                    lines.append(f"        m = (m & {keep}) | (b if b is not None else {slow}(v))")
                else:  # a list: its item sets are kept as they come
                    lines.append(f"        m = (m & {keep}) | {slow}(v)")
        for bit, helpers, any_ in self._combined:
            h, b = source.constant(helpers), source.constant(bit)
            lines.append(
                f"    if m & {h}: m |= {b}" if any_ else f"    if m & {h} == {h}: m |= {b}"
            )
        lines += [f"    if {expression}: m |= {bit:#x}" for expression, bit in multi.items()]
        real = source.constant(self.real)
        return source.function("\n".join(lines) + f"\n    return m & {real}\n", "parts that hold")

    def update(self, now: int, flat: Mapping[str, Any], name: str) -> int:
        """`now` (the parts that held before fact `name` was set) with `name` as in `flat`."""
        entry = self.facts.get(name)
        if entry is not None:
            now = (now & ~entry[0]) | (self._bits_of(entry, name, flat[name]) & self.real)
        reading = self.multi_reading.get(name)
        if reading is not None:
            now = (now & ~reading[0]) | reading[1](flat)
        return now

    @staticmethod
    def _bits_of(entry: tuple, name: str, value: Any) -> int:
        _, table, cuts, test = entry
        if cuts is not None:
            return table[bisect_right(cuts, value)]
        if type(value) is list:
            key = tuple(value)
            bits = table.get(key)
            if bits is None:
                bits = test({name: value})
                if len(table) < LIST_MEMO:
                    table[key] = bits
            return bits
        bits = table.get(value)
        return test({name: value}) if bits is None else bits
