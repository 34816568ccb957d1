"""The condition language of the rule files: parsing, and compiling to the engine and to Python.

A rule's `when` is a mapping whose entries must all hold. An entry is either
`fact: test` or `all: [...]` / `any: [...]` (lists of such mappings). A test is a
plain value (equality; for a list fact, "includes") or a mapping of operators:

    is, is_not, in, not_in            any scalar fact
    less_than, at_most, more_than, at_least   integer facts
    includes, includes_any, excludes  list facts (situations)
    known: true|false                 any fact
    if_unknown: true                  the test also holds when the fact is unknown

A test on an unknown (absent) fact does not hold unless it says `if_unknown: true`
or `known: false`; this is also how durable_rules treats absent fields, so the
two compilations below agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.exceptions import DisputeGuideError

Predicate = Callable[[Mapping[str, Any]], bool]

COMBINATORS = ("all", "any")
SCALAR_OPS = ("is", "is_not", "in", "not_in")
NUMBER_OPS = ("less_than", "at_most", "more_than", "at_least")
LIST_OPS = ("includes", "includes_any", "excludes")
OPERATORS = SCALAR_OPS + NUMBER_OPS + LIST_OPS + ("known",)

_DURABLE_COMPARISON = {
    "less_than": "$lt",
    "at_most": "$lte",
    "more_than": "$gt",
    "at_least": "$gte",
}


class ConditionError(DisputeGuideError, ValueError):
    """A condition that cannot be compiled; `path` says where it is inside `when`."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class FactType:
    """What the condition parser needs to know of a fact."""

    name: str
    type: str  # boolean | enum | integer | list
    values: tuple = ()


@dataclass(frozen=True)
class Check:
    """Tests on one fact, all of which must hold (or the fact is unknown, if `if_unknown`)."""

    fact: str
    ops: tuple  # ((operator, value), ...)
    if_unknown: bool = False

    @property
    def reads(self) -> frozenset:
        return frozenset((self.fact,))


@dataclass(frozen=True)
class All:
    parts: tuple

    @property
    def reads(self) -> frozenset:
        return frozenset().union(*(p.reads for p in self.parts))


@dataclass(frozen=True)
class Any_:
    parts: tuple

    @property
    def reads(self) -> frozenset:
        return frozenset().union(*(p.reads for p in self.parts))


Node = Check | All | Any_


# --- parsing ---------------------------------------------------------------


def parse(when: Any, facts: Mapping[str, FactType], path: str = "when") -> All:
    """Parse a `when` mapping into an `All` node; raise ConditionError naming the place."""
    if not isinstance(when, Mapping) or not when:
        raise ConditionError(path, "must be a non-empty mapping of conditions")
    parts: list[All | Any_ | Check] = []
    for key, value in when.items():
        here = f"{path}.{key}"
        if key in COMBINATORS:
            if not isinstance(value, list) or not value:
                raise ConditionError(here, "must be a non-empty list of conditions")
            subs = tuple(parse(item, facts, f"{here}[{i}]") for i, item in enumerate(value))
            parts.append(All(subs) if key == "all" else Any_(subs))
        elif key in facts:
            parts.append(_parse_check(facts[key], value, here))
        else:
            raise ConditionError(here, f"unknown fact {key!r} (facts are defined in facts.yaml)")
    return All(tuple(parts))


def _parse_check(fact: FactType, test: Any, path: str) -> Check:
    if not isinstance(test, Mapping):
        op = "includes" if fact.type == "list" else "is"
        return Check(fact.name, ((op, _value(fact, op, test, path)),))
    if not test:
        raise ConditionError(path, "an empty test")
    if_unknown = test.get("if_unknown", False)
    if not isinstance(if_unknown, bool):
        raise ConditionError(f"{path}.if_unknown", "must be true or false")
    ops = []
    for op, value in test.items():
        if op == "if_unknown":
            continue
        if op not in OPERATORS:
            raise ConditionError(
                f"{path}.{op}", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
            )
        ops.append((op, _value(fact, op, value, f"{path}.{op}")))
    if not ops:
        raise ConditionError(path, "if_unknown needs a test to go with it")
    return Check(fact.name, tuple(ops), if_unknown)


def _value(fact: FactType, op: str, value: Any, path: str) -> Any:
    """Check that `value` suits operator `op` on `fact`; return it in its compiled form."""
    if op == "known":
        if not isinstance(value, bool):
            raise ConditionError(path, "known takes true or false")
        return value
    if op in LIST_OPS:
        if fact.type != "list":
            raise ConditionError(path, f"{op} applies to list facts; {fact.name} is {fact.type}")
        if op == "excludes" and not isinstance(value, list):
            value = [value]  # one item, or a list of which none may be there
        items = value if op != "includes" else [value]
        if op != "includes" and (not isinstance(value, list) or not value):
            raise ConditionError(path, f"{op} takes a non-empty list")
        for item in items:
            _one_value(fact, item, path)
        return tuple(items) if op != "includes" else value
    if fact.type == "list":
        raise ConditionError(path, f"{fact.name} is a list: use includes or includes_any")
    if op in NUMBER_OPS:
        if fact.type != "integer":
            raise ConditionError(path, f"{op} applies to integer facts; {fact.name} is {fact.type}")
        return _one_value(fact, value, path)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"{op} takes a non-empty list")
        return tuple(_one_value(fact, item, path) for item in value)
    return _one_value(fact, value, path)


def _one_value(fact: FactType, value: Any, path: str) -> Any:
    if fact.type == "boolean":
        ok = isinstance(value, bool)
        expected = "true or false"
    elif fact.type == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "a whole number"
    else:
        ok = isinstance(value, str) and value in fact.values
        expected = "one of " + ", ".join(fact.values)
    if not ok:
        raise ConditionError(
            path, f"{value!r} is not a valid value of {fact.name}: expected {expected}"
        )
    return value


# --- compiling to durable_rules ---------------------------------------------


def _durable_op(fact: str, op: str, value: Any) -> dict:
    """One atomic engine test (`in`, `not_in`, `includes_any` and `excludes` expand to
    several, in durable_terms)."""
    if op == "is":
        return {fact: value}
    if op == "is_not":
        return {"$neq": {fact: value}}
    if op in _DURABLE_COMPARISON:
        return {_DURABLE_COMPARISON[op]: {fact: value}}
    if op == "known":
        return {"$ex" if value else "$nex": {fact: 1}}
    if op == "includes":
        return {"$iany": {fact: {"$i": value}}}
    raise ConditionError(fact, f"no engine form for operator {op!r}")


MAX_TERMS = 256  # conjunctions one condition may expand to for the engine


def durable_terms(node: Node, member: Callable[[str, Any], str] | None = None) -> list[tuple]:
    """The condition in disjunctive normal form: conjunctions of atomic engine tests.

    durable_rules compiles an `$or` into alternative paths that meet again in one node,
    which it then visits once per path that holds: a rule with an `any` fires once per
    alternative, and nested alternatives multiply the nodes pending in its matcher (a fixed
    stack of 64). As conjunctions, each alternative is a rule of its own whose tests form
    a plain chain: every node of the network has one parent and is visited at most once
    per case, so the nodes of a ruleset bound what its matcher can hold pending.

    `member(fact, value)`, when given, names a field that the engine's fact carries when
    list `fact` holds `value`: "includes" is then a plain equality test, which the engine
    shares between rules and finds by hash, instead of a scan of the array (`$iany`).
    """
    if isinstance(node, All):
        terms: list[tuple] = [()]
        for part in node.parts:
            terms = [a + b for a in terms for b in durable_terms(part, member)]
            if len(terms) > MAX_TERMS:
                raise ConditionError("", f"expands to more than {MAX_TERMS} alternatives")
        return terms
    if isinstance(node, Any_):
        terms = [t for part in node.parts for t in durable_terms(part, member)]
        if len(terms) > MAX_TERMS:
            raise ConditionError("", f"expands to more than {MAX_TERMS} alternatives")
        return terms
    terms = [()]
    for op, value in node.ops:
        options: list[tuple[dict[str, Any], ...]]
        if op == "in":
            options = [({node.fact: v},) for v in value]
        elif op == "not_in":
            options = [tuple({"$neq": {node.fact: v}} for v in value)]
        elif op == "excludes":
            if member is None:
                raise ConditionError(node.fact, "excludes needs the engine's item markers")
            options = [tuple({"$nex": {member(node.fact, v): 1}} for v in value)]
        elif op in ("includes", "includes_any") and member is not None:
            items = value if op == "includes_any" else (value,)
            options = [({member(node.fact, v): 1},) for v in items]
        elif op == "includes_any":
            options = [({"$iany": {node.fact: {"$i": v}}},) for v in value]
        else:
            options = [(_durable_op(node.fact, op, value),)]
        terms = [a + b for a in terms for b in options]
    if node.if_unknown:
        terms = [({"$nex": {node.fact: 1}},)] + terms
    return terms


# --- compiling to Python ------------------------------------------------------


class Source:
    """Python source for conditions over a flattened fact named `f`, with its constants.

    The follow-up questions evaluate rules hundreds of times per case; one generated
    expression per condition costs a fraction of nested closures. The generated code
    only ever contains `f`, `_v`, operators, repr() of validated strings, ints and
    booleans, and names of constants held here: no input reaches it.
    """

    def __init__(self):
        self.constants: dict[str, Any] = {}

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def expression(self, node: Node) -> str:
        if isinstance(node, (All, Any_)):
            joiner = " and " if isinstance(node, All) else " or "
            return "(" + joiner.join(self.expression(p) for p in node.parts) + ")"
        name = repr(node.fact)
        tests = " and ".join(self._op(name, op, value) for op, value in node.ops)
        if node.if_unknown:
            return f"({name} not in f or ({tests}))"
        return f"({tests})"

    def _op(self, name: str, op: str, value: Any) -> str:
        # A fact absent from `f` is unknown: every test but `known: false` fails on it.
        if op == "is":
            return f"f.get({name}, _MISSING) == {value!r}"
        if op == "is_not":
            return f"((_v := f.get({name}, _MISSING)) is not _MISSING and _v != {value!r})"
        if op == "in":
            return f"f.get({name}, _MISSING) in {self.constant(frozenset(value))}"
        if op == "not_in":
            return (
                f"((_v := f.get({name}, _MISSING)) is not _MISSING "
                f"and _v not in {self.constant(frozenset(value))})"
            )
        if op in _PY_COMPARISON:
            return f"((_v := f.get({name})) is not None and _v {_PY_COMPARISON[op]} {value!r})"
        if op == "known":
            return f"({name} in f)" if value else f"({name} not in f)"
        if op == "includes":
            return f"({value!r} in f.get({name}, ()))"
        if op == "includes_any":
            return f"(not {self.constant(frozenset(value))}.isdisjoint(f.get({name}, ())))"
        if op == "excludes":
            return f"({self.constant(frozenset(value))}.isdisjoint(f.get({name}, ())))"
        raise ConditionError("", f"no Python form for operator {op!r}")

    def compile(self, expression: str, label: str) -> Callable:
        """A function of `f` returning `expression`."""
        return self._function(f"    return {expression}\n", label)

    def compile_mask(self, bits: Mapping[str, int], label: str) -> Callable:
        """A function of `f` returning the OR of the bits whose expressions hold: one
        statement each, so that thousands of rules do not nest the compiler's recursion."""
        # Bits in hexadecimal: a large rulebook's are beyond the digits Python converts
        # to decimal (4,300).
        body = "".join(f"    if {expression}: m |= {bit:#x}\n" for expression, bit in bits.items())
        return self._function(f"    m = 0\n{body}    return m\n", label)

    def function(self, body: str, label: str) -> Callable:
        """A function of `f` with this body (statements indented by four spaces), which
        may name the constants held here."""
        return self._function(body, label)

    def _function(self, body: str, label: str) -> Callable:
        namespace = {"_MISSING": _MISSING, **self.constants}
        # Constants bound as default arguments are locals: faster than globals.
        bound = "".join(f", {name}={name}" for name in namespace)
        code = compile(f"def _condition(f{bound}):\n{body}", f"<condition {label}>", "exec")
        exec(code, namespace)  # noqa: S102 - source built above from validated values only
        return namespace["_condition"]


_MISSING = object()
_PY_COMPARISON = {"less_than": "<", "at_most": "<=", "more_than": ">", "at_least": ">="}


def to_python(node: Node, label: str = "") -> Predicate:
    """Compile a node to a predicate over the same flattened fact, with the engine's semantics.

    The follow-up questions use it to try answers without a round trip through the
    engine; tests prove that both compilations agree on every rule.
    """
    source = Source()
    return source.compile(source.expression(node), label)


def thresholds(node: Node, fact: str) -> set[int]:
    """The points at which the conditions on integer `fact` can change their outcome."""
    if isinstance(node, (All, Any_)):
        return set().union(*(thresholds(p, fact) for p in node.parts))
    if node.fact != fact:
        return set()
    cuts: set[int] = set()
    for op, value in node.ops:
        if op in ("less_than", "at_least"):
            cuts.add(value)
        elif op in ("at_most", "more_than"):
            cuts.add(value + 1)
        elif op in ("is", "is_not"):
            cuts.update((value, value + 1))
        elif op in ("in", "not_in"):
            for v in value:
                cuts.update((v, v + 1))
    return cuts


def mentioned(node: Node, fact: str) -> set:
    """The values of list `fact` that `includes` / `includes_any` tests look for."""
    if isinstance(node, (All, Any_)):
        return set().union(*(mentioned(p, fact) for p in node.parts))
    if node.fact != fact:
        return set()
    found: set = set()
    for op, value in node.ops:
        if op == "includes":
            found.add(value)
        elif op == "includes_any":
            found.update(value)
    return found
