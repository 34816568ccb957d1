"""How a batch went, tallied the same way by the HTTP batch, the command line and a cluster."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from service.model import Rulebook


class Tally:
    """How a batch went: cases, errors, and how often each step was recommended,
    overall and in the cases of each situation (a case counts for each of its situations)."""

    def __init__(self) -> None:
        self.cases = 0
        self.errors = 0
        self.steps: Counter = Counter()
        self.situations: Counter = Counter()
        self.steps_by_situation: dict[str, Counter] = defaultdict(Counter)

    @property
    def evaluated(self) -> int:
        return self.cases - self.errors

    def add(self, situations: Iterable[str], steps: Iterable[str]) -> None:
        steps = tuple(steps)
        self.cases += 1
        self.steps.update(steps)
        for situation in situations:
            self.situations[situation] += 1
            self.steps_by_situation[situation].update(steps)

    def add_tally(self, other: Tally) -> None:
        """Count another tally's cases too: the tallies of a batch's parts, reduced into one."""
        self.cases += other.cases
        self.errors += other.errors
        self.steps.update(other.steps)
        self.situations.update(other.situations)
        for situation, counts in other.steps_by_situation.items():
            self.steps_by_situation[situation].update(counts)

    def add_error(self) -> None:
        self.cases += 1
        self.errors += 1

    def ranked(self, counts: Counter, rulebook: Rulebook) -> list[tuple[str, int]]:
        """Most recommended first; ties in catalogue order."""
        rank = rulebook.steps
        return sorted(counts.items(), key=lambda item: (-item[1], rank[item[0]].rank))

    def situation_order(self, rulebook: Rulebook) -> list[str]:
        known = rulebook.facts["situations"].values
        return [s for s in known if s in self.situations]

    def summary(self, rulebook: Rulebook) -> dict:
        return {
            "cases": self.cases,
            "evaluated": self.evaluated,
            "errors": self.errors,
            "steps": dict(self.ranked(self.steps, rulebook)),
            "situations": {
                situation: {
                    "cases": self.situations[situation],
                    "steps": dict(self.ranked(self.steps_by_situation[situation], rulebook)),
                }
                for situation in self.situation_order(rulebook)
            },
        }
