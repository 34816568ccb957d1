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

Ranking: the question whose answers can change the most serious step comes first
(escalation 5, a warning 4, disengagement 3, other actions 2, prevention 1), then the
one whose answers change the greatest total weight of steps, then the order of the
facts in facts.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from service.rulebook import Fact, Rule, Rulebook, Step, resolve

CATEGORY_WEIGHT = {"escalate": 5, "disengage": 3, "prevent": 1}
KIND_WEIGHT = {"avoid": 4}
DEFAULT_WEIGHT = 2


def weight(step: Step) -> int:
    return max(CATEGORY_WEIGHT.get(step.category, DEFAULT_WEIGHT), KIND_WEIGHT.get(step.kind, 0))


@dataclass(frozen=True)
class Answer:
    """One possible answer to a question: a value to put in the case, and its label."""

    value: Any
    labels: dict  # lang -> text


@dataclass(frozen=True)
class Option:
    answer: Answer
    add: tuple  # step ids, in catalogue order
    remove: tuple


@dataclass(frozen=True)
class Question:
    fact: Fact
    options: tuple  # Option
    rank: tuple  # the sort key: best first


class Asker:
    """Per rulebook: the possible answers of each fact, and the analysis of one case."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.answers = {
            name: answers for name, fact in rulebook.facts.items()
            if name in rulebook.rules_reading and (answers := self._answers(fact))
        }
        self._position = {name: i for i, name in enumerate(rulebook.facts)}
        # Each rule is `all` of its top-level parts; keep each part's predicate and reads.
        from service.conditions import to_python
        self._parts = [
            (rule, tuple((to_python(part), part.reads) for part in rule.when.parts))
            for rule in rulebook.rules
        ]

    def _answers(self, fact: Fact) -> tuple:
        if fact.type == "boolean":
            return (Answer(True, fact.labels["yes"]), Answer(False, fact.labels["no"]))
        if fact.type == "enum":
            return tuple(Answer(v, fact.labels[v]) for v in fact.values)
        if fact.type == "integer":
            return self._ranges(fact)
        return ()  # a list fact has too many answers to offer; only `situations` is one

    def _ranges(self, fact: Fact) -> tuple:
        cuts = [c for c in self.rulebook.cuts.get(fact.name, ()) if fact.min < c <= fact.max]
        if not cuts:
            return ()
        bounds = [fact.min, *cuts, fact.max + 1]
        labels = self.rulebook.range_labels
        answers = []
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
            last = hi - 1
            if i == len(bounds) - 2:
                template, value = labels["from_"], lo
            elif i == 0 and lo == fact.min:
                template, value = labels["below"], (lo + last) // 2
            else:
                template, value = labels["between"], (lo + last) // 2
            if lo == last:
                text = {lang: str(lo) for lang in template}
            else:
                text = {lang: t.format(lo=lo, hi=hi, last=last) for lang, t in template.items()}
            answers.append(Answer(value, text))
        return tuple(answers)

    def ask(self, flat: Mapping[str, Any], fired: frozenset, steps: frozenset) -> list[Question]:
        """The questions for the unknown facts of `flat`, best first.

        `fired` and `steps` are what the engine found for `flat` as it is.
        """
        flippable: dict[str, list[Rule]] = {}
        for rule, parts in self._parts:
            failing = [reads for test, reads in parts if not test(flat)]
            if not failing:
                could_flip = rule.reads  # it fired; an answer may make it stop
            else:
                could_flip = frozenset.intersection(*failing)
            for name in could_flip:
                if name not in flat:
                    flippable.setdefault(name, []).append(rule)

        rules = self.rulebook.rules
        step_rank = self.rulebook.steps
        questions = []
        for name, candidates in flippable.items():
            answers = self.answers.get(name)
            if not answers:
                continue
            trial = dict(flat)
            options = []
            changed: set[str] = set()
            for answer in answers:
                trial[name] = answer.value
                flips = {r.id for r in candidates if r.test(trial) != (r.id in fired)}
                if not flips:
                    options.append(Option(answer, (), ()))
                    continue
                now = fired.symmetric_difference(flips)
                after = resolve(r for r in rules if r.id in now).keys()
                add = sorted(after - steps, key=lambda s: step_rank[s].rank)
                remove = sorted(steps - after, key=lambda s: step_rank[s].rank)
                changed.update(add, remove)
                options.append(Option(answer, tuple(add), tuple(remove)))
            if changed:
                weights = [weight(step_rank[s]) for s in changed]
                rank = (-max(weights), -sum(weights), self._position[name])
                questions.append(Question(self.rulebook.facts[name], tuple(options), rank))
        questions.sort(key=lambda q: q.rank)
        return questions
