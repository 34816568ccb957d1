"""The engine adapter: the only module that imports durable_rules.

It drives durable_rules' C module directly instead of its Python `Host`, because the
Host starts timer threads that take other requests' actions (segfaults under threads),
copies state on every action and costs ~1 ms per case (docs/engine.md has the figures).
Here one evaluation is: a fresh session id, one flattened fact asserted, the fired
rules read off the action queue by name, the session deleted in `finally`.

Containment of the engine's known crashes and limits:
- every rule and a sentinel carry a positive guard (`_c: 1`), so no pattern matches
  the engine's own state object and the sentinel fires once per session: a session
  with no action can't reach `delete_state` (which frees uninitialized memory then);
- one evaluation at a time per ruleset (a lock), so at most one session is live:
  the 1,024-session cap and 32-bit sid-hash collisions are unreachable;
- facts reach the engine only after schema validation (exact types, bounded ints,
  short strings), so its type coercion and long-string hashing never matter;
- conditions reach it as plain chains of tests (no `$or`, which fires a rule once per
  alternative), spread over as many rulesets as keep its matcher's fixed stack provably
  within bounds (`shard`, below; error 303 otherwise).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import durable_rules_engine as _dre

from service.conditions import durable_terms
from service.exceptions import EngineError
from service.model import Rulebook
from service.plan import Planner, complete
from service.questions import Asker

GUARD_FIELD = "_c"  # fact names start with a letter, so this and the `_l` markers never clash
_GUARD = {GUARD_FIELD: 1}
SENTINEL = "~sentinel"  # not kebab-case, so never a rule id
ALTERNATIVE = "~"  # engine rule names are "<rule id>~<alternative>"
# durable_rules' matcher walks a fact through the alpha network with a fixed stack of 64
# pending nodes (MAX_STACK_SIZE in events.c, error 303 when full). The rulebook is split
# into as many rulesets as keep that stack provably within STACK_BUDGET for any fact,
# evaluated in turn (rules match one fact and never chain, so the fired sets just add up).
STACK_BUDGET = 60
# The matcher's cost per fact grows faster than its ruleset: measured on the bundled rules
# (181 engine rules), one ruleset took about 2x the time of four rulesets of 48 at most.
RULES_PER_RULESET = 48
_ruleset_names = itertools.count(1)
_encode = json.JSONEncoder(separators=(",", ":")).encode
_engines: weakref.WeakSet = weakref.WeakSet()
_ABSENT = object()


class Guidance(NamedTuple):
    case_id: str | None
    ruleset_version: str
    facts: dict  # the known facts, flattened (dotted names), implied ones included
    steps: tuple  # service.plan.PlannedStep, ordered by phase, category and order
    rules_fired: tuple  # Rule, in rulebook order
    questions: tuple | None  # Question, best first; None when not asked for
    source_labels: dict  # step id -> lang -> where the advice comes from
    context: dict | None = None  # what fills the messages' placeholders (never a fact)
    templates: Any = None  # the rulebook's message templates (service.messages.Templates)
    rendered: dict | None = None  # per rulebook: what rendering reuses (service.core fills it)


NOT_FACTS = ("case_id", "context")  # fields of a case that are no facts


def flatten(case: Mapping[str, Any]) -> dict:
    """Known facts of a validated case as dotted names; None, case_id and context are
    left out."""
    flat = {}
    for key, value in case.items():
        if value is None or key in NOT_FACTS:
            continue
        if type(value) is dict:
            for sub, subvalue in value.items():
                if subvalue is not None:
                    flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value
    return flat


class Engine:
    """A compiled rulebook; `evaluate` is safe to call from many threads."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.planner = Planner(rulebook)
        self.asker = Asker(rulebook, self.planner)
        self._rules = {rule.id: rule for rule in rulebook.rules}
        self._order = {rule.id: i for i, rule in enumerate(rulebook.rules)}
        # List facts reach the engine also as one marker field per item they hold.
        self._members = {
            fact.name: {value: f"_l{i}_{j}" for j, value in enumerate(fact.values)}
            for i, fact in enumerate(rulebook.facts.values())
            if fact.type == "list"
        }
        self.shards = shard(rulebook, lambda fact, value: self._members[fact][value])
        # A ruleset whose rules all need one list item (a situation), or all test one fact for
        # the same value, can fire nothing for a case without it: it is not run at all (what
        # it would give: only the sentinel).
        self._needs = tuple(_needed(rules) for rules in self.shards)
        self._select = _selector(self._needs)
        self._handles: list = []
        for rules in self.shards:
            definition = {
                name: {"all": [{"m": {"$and": [_GUARD, *term]}}], "pri": 1} for name, term in rules
            }
            # Lowest priority: fires last, once per session, whatever the facts.
            definition[SENTINEL] = {"all": [{"m": _GUARD}], "pri": 65535}
            name = f"dispute-guide-{os.getpid()}-{next(_ruleset_names)}"
            try:
                self._handles.append(_dre.create_ruleset(name, json.dumps(definition)))
            except Exception as error:  # the C module raises plain Exception subclasses
                for handle in self._handles:
                    _dre.delete_ruleset(handle)
                raise EngineError(f"durable_rules refused the ruleset: {error}") from error
        self.rendered: dict = {}  # what rendering reuses between answers (service.core)
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self.live_sessions = 0
        self.evaluations = 0
        self.observer: Callable[[Guidance], None] | None = (
            None  # called with each Guidance (the app counts them in /metrics)
        )
        _engines.add(self)

    def fire(self, flat: Mapping[str, Any]) -> list[str]:
        """Assert one flattened case in a fresh session of each ruleset; return the ids of the
        rules that fired, each once."""
        fired: list[str] = []
        fact = self._fact(flat)
        fire_one = self._fire_one
        with self._lock:
            sid = fact["sid"] = fact["id"] = str(next(self._sids))
            encoded = _encode(fact)
            handles = self._handles
            for i in self._select(fact):
                fire_one(handles[i], sid, encoded, fired)
            self.evaluations += 1
        # A rule fires once per alternative of its condition that holds.
        return list(dict.fromkeys(name.partition(ALTERNATIVE)[0] for name in fired))

    def _fact(self, flat: Mapping[str, Any]) -> dict:
        """The engine's fact for a case but its session id: its facts, the guard, and list
        items as markers."""
        fact = dict(flat)
        fact[GUARD_FIELD] = 1
        for name, markers in self._members.items():
            for value in flat.get(name, ()):
                fact[markers[value]] = 1
        return fact

    def encode(self, flat: Mapping[str, Any], sid: str) -> str:
        """The engine's fact for a case: its facts, the guard, and list items as markers."""
        fact = self._fact(flat)
        fact["sid"] = fact["id"] = sid
        return _encode(fact)

    def _fire_one(self, handle, sid: str, encoded: str, fired: list) -> None:
        try:
            code, state = _dre.assert_fact(handle, encoded)
        except Exception as error:
            raise EngineError(f"assert_fact failed: {error}") from error
        if code != 0:  # cannot happen: the sentinel matches every fact, sids are unique
            raise EngineError(f"assert_fact returned code {code}")
        self.live_sessions += 1
        start = len(fired)
        try:
            result = _dre.start_action_for_state(handle, state)
            while result:
                message = result[1] if type(result) is tuple else result
                # A message is '{"<rule name>":{...}}': slicing the name out avoids
                # parsing the echoed fact, which would double the cost.
                fired.append(message[2 : message.index('"', 2)])
                result = _dre.complete_and_start_action(handle, state)
        except Exception as error:
            raise EngineError(f"running the actions failed: {error}") from error
        finally:
            _dre.delete_state(handle, sid)
            self.live_sessions -= 1
        if len(fired) == start or fired[-1] != SENTINEL:
            raise EngineError("the sentinel rule did not fire last")
        fired.pop()

    def evaluate(
        self, case: Mapping[str, Any], questions: bool = True, facts: dict | None = None
    ) -> Guidance:
        """Evaluate one validated case (nested, as the API receives it).

        The case must not contradict the implications of facts.yaml (validation refuses
        such a case); what its facts imply is added before the engine sees them. `facts`:
        those facts when the caller has them already (`service.core.validated` does).
        """
        flat = complete(self.rulebook, flatten(case)) if facts is None else facts
        if not flat.get("situations"):
            raise ValueError("a case needs at least one situation")
        fired = self.fire(flat)
        fired.sort(key=self._order.__getitem__)
        rules = [self._rules[rule_id] for rule_id in fired]
        steps = self.planner.plan(rules)
        asked = None
        if questions:
            asked = tuple(self.asker.ask(flat, frozenset(fired), {p.step.id for p in steps}))
        guidance = Guidance(
            case.get("case_id"),
            self.rulebook.version,
            flat,
            steps,
            tuple(rules),
            asked,
            self.rulebook.source_labels,
            case.get("context"),
            self.rulebook.messages,
            self.rendered,
        )
        if self.observer is not None:
            self.observer(guidance)
        return guidance

    def close(self) -> None:
        """Free the compiled ruleset; evaluating afterwards is an error.

        gunicorn's master closes the rules a SIGHUP replaced (it serves no request; the
        workers forked before have their own copies).
        """
        with self._lock:
            for handle in self._handles:
                _dre.delete_ruleset(handle)
            self._handles = []


def shard(rulebook: Rulebook, member=None) -> list[list[tuple[str, tuple]]]:
    """The rules' alternatives as engine rules, grouped by the list item they need and
    packed into as few rulesets per group as keep the matcher's pending stack within
    STACK_BUDGET for every possible fact.

    The alpha network of a ruleset is the trie of its rules' test chains (durable_rules
    shares a node between chains that start with the same test; it never shares array
    tests, which the engine's marker fields avoid). Its matcher pops a node and pushes the
    children that hold, depth first, so the stack peaks at `Network.bound` at most: the
    children pending along one path, counted as all of them that can hold at once.
    Chains are written in a canonical order so that alike rules share their first tests.
    """
    shards: list[list[tuple[str, tuple]]] = []
    network = Network()
    engine_rules = [
        (f"{rule.id}{ALTERNATIVE}{k}", tuple(sorted(term, key=_chain_key)), rule.id)
        for rule in rulebook.rules
        for k, term in enumerate(durable_terms(rule.when, member))
    ]
    # Grouped by the list item each needs (its first marker test; those that need none
    # first), in rulebook order within a group: a ruleset holds one group, so a case runs
    # only the rulesets of the items it holds (and those that need none). A group too large
    # for one ruleset is split further by the value its rules test one fact for (the fact
    # most of them test for a value; the others last): a case runs only the part of its
    # value, and the rest.
    engine_rules.sort(key=lambda r: _marker(r[1]) or "")  # stable: rulebook order stays
    keyed = []
    for marker, grouped in itertools.groupby(engine_rules, key=lambda r: _marker(r[1])):
        members = list(grouped)
        gate = _gate(members) if len(members) > RULES_PER_RULESET else None
        for name, chain, rule_id in members:
            keyed.append(((marker or "", _value_of(chain, gate)), (name, chain, rule_id)))
    keyed.sort(key=lambda k: k[0])  # stable
    engine_rules = [rule for _, rule in keyed]
    groups = [key for key, _ in keyed]
    group = None
    for (name, chain, rule_id), key in zip(engine_rules, groups, strict=True):
        if (
            not shards
            or key != group
            or len(shards[-1]) >= RULES_PER_RULESET
            or network.bound_with(chain) > STACK_BUDGET
        ):
            shards.append([])
            network = Network()
            group = key
            if network.bound_with(chain) > STACK_BUDGET:
                raise EngineError(
                    f"rule {rule_id!r}: an alternative of its condition is too long for the engine"
                )
        network.add(chain)
        shards[-1].append((name, chain))
    return shards


def _marker(chain: tuple) -> str | None:
    """The first list-item marker a chain needs present (`{"_l0_3": 1}`), if any."""
    for atom in chain:
        field, value = next(iter(atom.items()))
        if field.startswith("_l") and value == 1:
            return field
    return None


def _selector(needs: tuple) -> Callable[[Mapping[str, Any]], list[int]]:
    """A function of the engine's fact giving the rulesets to run (their indices, in
    order): those whose needed equality tests (`_needed`) all hold. Generated, with the
    tests' fields and values bound as default arguments."""
    constants: dict[str, Any] = {"_ABSENT": _ABSENT}
    lines = ["    run = []"]
    for i, needed in enumerate(needs):
        tests = []
        for field, value in needed:
            f, v = f"_f{len(constants)}", f"_v{len(constants)}"
            constants[f], constants[v] = field, value
            tests.append(f"fact.get({f}, _ABSENT) == {v}")
        lines.append(
            f"    if {' and '.join(tests)}: run.append({i})" if tests else f"    run.append({i})"
        )
    bound = "".join(f", {c}={c}" for c in constants)
    source = f"def _select(fact{bound}):\n" + "\n".join(lines) + "\n    return run\n"
    namespace: dict = dict(constants)
    exec(compile(source, "<rulesets to run>", "exec"), namespace)  # noqa: S102 - names only
    return namespace["_select"]


def _gate(rules: list) -> str | None:
    """The fact (not a marker) that most of these engine rules test for a value, if any."""
    counts: dict[str, int] = {}
    for _, chain, _ in rules:
        for field in {f for f, _ in _equalities(chain)}:
            if not field.startswith("_l"):
                counts[field] = counts.get(field, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def _value_of(chain: tuple, gate: str | None) -> str:
    """The value (as JSON) that a chain tests fact `gate` for; "~" (after every value)
    when it tests none."""
    if gate is not None:
        for field, value in _equalities(chain):
            if field == gate:
                return json.dumps(value)
    return "~"


def _equalities(chain: tuple) -> list[tuple[str, Any]]:
    """A chain's plain equality tests, as (field, value)."""
    found = []
    for atom in chain:
        field, value = next(iter(atom.items()))
        if not field.startswith("$") and type(value) in (str, int, bool):
            found.append((field, value))
    return found


def _needed(rules: list[tuple[str, tuple]]) -> tuple[tuple[str, Any], ...]:
    """The equality tests (a list item's marker, or a fact's value) that every rule of a
    ruleset has, as (field, value) pairs: a fact that fails one of them fires none of its
    rules. Facts reach the engine with the types of the rules' values (validation), so a
    Python comparison says what the engine's says."""
    common: dict[str, tuple[str, Any]] | None = None
    for _, chain in rules:
        plain = {json.dumps(test): test for test in _equalities(chain)}
        common = plain if common is None else {k: v for k, v in common.items() if k in plain}
    return tuple((common or {}).values())


def _chain_key(atom: dict) -> tuple:
    # Marker and equality tests first: alike rules share them, and at most one equality
    # on a fact can hold, which keeps the matcher's fan-out small.
    op = next(iter(atom))
    return (not op.startswith("_l"), op.startswith("$"), json.dumps(atom, sort_keys=True))


class Network:
    """A node of a ruleset's alpha network (the root is the guard), with what the matcher
    can hold pending below it: `bound` = most children that can hold at once, less the
    node itself, plus the deepest bound among the children."""

    __slots__ = ("children", "holding", "fan", "bound")

    def __init__(self):
        self.children: dict[str, Network] = {}
        self.holding: dict[str, list] = {}  # field: [equalities, other tests, exists, absent]
        self.fan = 0
        self.bound = 1

    @staticmethod
    def _slot(atom: dict) -> tuple[str, int]:
        op, arg = next(iter(atom.items()))
        if op.startswith("$"):
            return next(iter(arg)), {"$nex": 3, "$ex": 2}.get(op, 1)
        return op, 0

    def _fan_with(self, atom: dict) -> int:
        field, slot = self._slot(atom)
        counts = self.holding.get(field, [0, 0, 0, 0])
        grown = list(counts)
        grown[slot] += 1
        return self.fan - _holds(counts) + _holds(grown)

    def bound_with(self, chain: tuple) -> int:
        """The bound of this network once `chain` is added (nothing is changed)."""
        path: list[tuple[Network, str]] = []
        node = self
        for atom in chain:
            key = json.dumps(atom, sort_keys=True)
            path.append((node, key))
            if key not in node.children:
                bound = (
                    node._fan_with(atom) - 1 + max([1, *(c.bound for c in node.children.values())])
                )
                break
            node = node.children[key]
        else:
            return self.bound
        for parent, key in reversed(path[:-1]):
            others = [c.bound for k, c in parent.children.items() if k != key]
            bound = parent.fan - 1 + max([bound, *others])
        return bound

    def add(self, chain: tuple) -> None:
        path = []
        node = self
        for atom in chain:
            key = json.dumps(atom, sort_keys=True)
            path.append(node)
            if key not in node.children:
                field, slot = self._slot(atom)
                counts = node.holding.setdefault(field, [0, 0, 0, 0])
                before = _holds(counts)
                counts[slot] += 1
                node.fan += _holds(counts) - before
                node.children[key] = Network()
            node = node.children[key]
        for node in reversed(path):
            node.bound = node.fan - 1 + max(c.bound for c in node.children.values())


def _holds(counts: list) -> int:
    """How many tests on one field can hold at once: one equality at most, and a field
    that is absent passes only its "absent" test."""
    eq, other, ex, nex = counts
    return max(min(eq, 1) + other + ex, min(nex, 1))


def _reset_locks_after_fork() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    for engine in list(_engines):
        engine._lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_locks_after_fork)
