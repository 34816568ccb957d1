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

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from service.conditions import Any_, Source, to_python
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
        self._weight = {s.id: weight(s) for s in rulebook.steps.values()}
        self._rank = {s.id: s.rank for s in rulebook.steps.values()}
        source = Source()
        self._bits: dict[str, int] = {}  # expression -> its bit in the mask of parts
        self._reads: dict[str, frozenset] = {}  # expression -> the facts it reads
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
        self._parts = source.compile_mask(self._bits, "all rule parts")
        # Per fact, the parts that read it: an answer recomputes only those.
        self._parts_reading: dict[str, tuple] = {}
        for name in rulebook.facts:
            bits = {e: b for e, b in self._bits.items() if name in self._reads[e]}
            if bits:
                self._parts_reading[name] = (
                    sum(bits.values()),
                    source.compile_mask(bits, f"parts reading {name}"),
                )

    def _bit(self, node) -> int:
        expression = self._source.expression(node)
        if expression not in self._bits:  # rules share parts ("situations includes conflict")
            self._bits[expression] = 1 << len(self._bits)
            self._reads[expression] = node.reads
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
        questions = []
        tried: dict[frozenset, set] = {}
        for name, probes in self._probes.items():
            if name in flat:
                continue
            if name in self._implying:  # an answer may imply more facts: try it whole
                question = self._tried(name, flat, given, holding)
                if question:
                    questions.append(question)
                continue
            flips: dict[int, list[Rule]] = {}
            for probe in probes:
                if holding & probe.rest != probe.rest:
                    continue  # a part that does not read this fact fails: no answer helps
                was = probe.rule.id in fired
                if probe.static:
                    if holding & probe.either:
                        continue  # it fires whatever the answer, as it does now
                    flipping: Iterable[int] = probe.stop if was else probe.start
                else:
                    trial = dict(flat)
                    found: list[int] = []
                    flipping = found
                    for k, answer in enumerate(self.answers[name]):
                        trial[name] = answer.value
                        if all(t(trial) for t in probe.parts) is not was:
                            found.append(k)
                for k in flipping:
                    if k in flips:
                        flips[k].append(probe.rule)
                    else:
                        flips[k] = [probe.rule]
            if not flips:
                continue
            changes = {}
            for k, flipped in flips.items():
                key = frozenset(rule.id for rule in flipped)
                steps = tried.get(key)
                if steps is None:  # other facts' answers often flip the very same rules
                    steps = tried[key] = self._steps_of(fired.symmetric_difference(key))
                changes[k] = steps
            question = self._question(name, changes, given, ())
            if question:
                questions.append(question)
        questions.sort(key=lambda q: q.rank)
        return questions

    def _steps_of(self, fired) -> set:
        return self.planner.present(fired)

    def _tried(
        self, name: str, flat: Mapping[str, Any], given: set, holding: int
    ) -> Question | None:
        """Each answer filled in with what it implies, every rule tried on the result;
        answers that contradict the known facts are not offered. `holding`: the parts that
        hold for `flat`; only those reading a fact the answer sets are evaluated again."""
        changes = {}
        impossible = []
        reading = self._parts_reading
        for k, answer in enumerate(self.answers[name]):
            trial = dict(flat)
            trial[name] = answer.value
            trial, contradicted = settle(self.rulebook, trial)
            if contradicted:
                impossible.append(k)
                continue
            now = holding
            for fact in trial.keys() - flat.keys():
                if fact in reading:
                    mask, parts = reading[fact]
                    now = (now & ~mask) | parts(trial)
            holding_now = now
            changes[k] = self._steps_of(
                rule_id for rule_id, parts in self._rule_parts if holding_now & parts == parts
            )
        return self._question(name, changes, given, tuple(impossible))

    def _question(self, name: str, changes: dict, given: set, impossible: tuple) -> Question | None:
        """The question on `name`, from the steps each answer `k` would give (`changes[k]`;
        answers not in it change nothing), or None when no answer changes anything."""
        options = None
        changed: set[str] = set()
        rank = self._rank.__getitem__
        for k, steps in changes.items():
            add = sorted(steps - given, key=rank)
            remove = sorted(given - steps, key=rank)
            if add or remove:
                if options is None:
                    options = list(self._unchanged[name])
                changed.update(add, remove)
                options[k] = Option(options[k].answer, tuple(add), tuple(remove))
        if options is None:
            return None
        if impossible:
            options = [o for k, o in enumerate(options) if k not in impossible]
        weight = self._weight.__getitem__
        fact = self.rulebook.facts[name]
        return Question(
            fact,
            tuple(options),
            (
                -fact.priority,
                -max(map(weight, changed)),
                -sum(map(weight, changed)),
                self._position[name],
            ),
        )
