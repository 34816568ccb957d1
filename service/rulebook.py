"""Loading the rules folder: facts, the step catalogue and the rule files, validated.

Loading is separate from evaluating (service/engine.py): a Rulebook (service/model.py) is
plain data that the engine compiles, the questions analyse and the API describes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml

from schemas.common import LANGS, message_paths
from schemas.messages import MessagesFileSchema
from schemas.rules import (
    FactsFileSchema,
    PlanFileSchema,
    RuleFileSchema,
    StepCatalogueSchema,
)
from service.coherence import find_conflicts
from service.conditions import Check, ConditionError, FactType, mentioned, parse, to_python
from service.exceptions import DisputeGuideError
from service.messages import MessagesError, templates
from service.model import (
    Conflict,
    Fact,
    Implication,
    PhaseShift,
    Rule,
    Rulebook,
    RuleTest,
    Step,
)
from service.resources import bundled

FACTS_FILE = "facts.yaml"
STEPS_FILE = "steps.yaml"
PLAN_FILE = "plan.yaml"
MESSAGES_FILE = "messages.yaml"
SPECIAL_FILES = (FACTS_FILE, STEPS_FILE, PLAN_FILE, MESSAGES_FILE)
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
DEFAULT_RULES_DIR = bundled("rules")
MAX_RULE_FILE_BYTES = 1 << 20


class RulesError(DisputeGuideError):
    """The rules folder cannot be used; the message names the file, the rule and the problem."""


def load_rulebook(directory: str | Path | None = None) -> Rulebook:
    """Load and validate a rules folder; raise RulesError naming every problem found."""
    directory = Path(directory) if directory else DEFAULT_RULES_DIR
    if not directory.is_dir():
        raise RulesError(f"{directory}: the rules folder does not exist")
    digest = hashlib.sha256()
    documents: dict[str, Any] = {}
    paths = sorted(directory.glob("*.yaml"))
    for path in paths:
        text = _read(path)
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
        documents[path.name] = _parse_yaml(path, text)
    for needed in (FACTS_FILE, STEPS_FILE):  # plan.yaml is optional
        if needed not in documents:
            raise RulesError(f"{directory / needed}: missing")

    facts_doc = _validate(directory / FACTS_FILE, FactsFileSchema(), documents.pop(FACTS_FILE))
    facts = {f["name"]: _fact(f) for f in facts_doc["facts"]}
    steps_doc = _validate(directory / STEPS_FILE, StepCatalogueSchema(), documents.pop(STEPS_FILE))
    categories = tuple(steps_doc["categories"])
    steps = {
        s["id"]: Step(
            s["id"],
            s["kind"],
            s["category"],
            s["order"],
            s["section"],
            s["source"],
            s["phase"],
            {lang: s[lang] for lang in LANGS},
            (categories.index(s["category"]), s["order"], s["id"]),
        )
        for s in steps_doc["steps"]
    }
    plan_doc = _validate(
        directory / PLAN_FILE, PlanFileSchema(steps=set(steps)), documents.pop(PLAN_FILE, {})
    )
    messages = None
    if MESSAGES_FILE in documents:
        path = directory / MESSAGES_FILE
        document = _validate(path, MessagesFileSchema(), documents.pop(MESSAGES_FILE))
        try:
            messages = templates(path, document, steps)
        except MessagesError as error:
            raise RulesError(str(error)) from None
    if not documents:
        raise RulesError(f"{directory}: no rule files (*.yaml besides {', '.join(SPECIAL_FILES)})")

    fact_types = {n: FactType(n, f.type, f.values) for n, f in facts.items()}
    implications = _implications(
        directory / FACTS_FILE, facts_doc["implications"], facts, fact_types
    )
    rules: list[Rule] = []
    tests: list[RuleTest] = []
    owner: dict[str, str] = {}
    for name, document in documents.items():
        schema = RuleFileSchema(facts=fact_types, steps=set(steps), parse=parse)
        loaded = _validate(directory / name, schema, document)
        for raw, rule in zip(document["rules"], loaded["rules"], strict=False):
            if rule["id"] in owner:
                raise RulesError(
                    f"{directory / name}: rule {rule['id']!r}: duplicate rule id "
                    f"{rule['id']!r} (also in {owner[rule['id']]})"
                )
            owner[rule["id"]] = name
            reason = _reason(directory / name, rule, facts)
            rules.append(
                Rule(
                    rule["id"],
                    name,
                    rule["description"],
                    rule["when"],
                    raw["when"],
                    tuple(rule["add"]),
                    tuple(rule["remove"]),
                    tuple(n for n in facts if n in rule["when"].reads),
                    to_python(rule["when"]),
                    reason,
                    {
                        n: frozenset(mentioned(rule["when"], n))
                        for n, f in facts.items()
                        if f.type == "list" and n in rule["when"].reads
                    },
                    rule["phase"],
                )
            )
        tests.extend(
            RuleTest(
                name,
                t["name"],
                t["case"],
                tuple(t["expect"]),
                tuple(t["forbid"]),
                t["phases"],
                t["messages"],
            )
            for t in loaded["tests"]
        )

    superseded_by, conflicts = _supersession(directory / PLAN_FILE, plan_doc, steps)
    conflicts = (
        tuple(Conflict(tuple(c["steps"]), c["why"]) for c in plan_doc["conflicts"]) + conflicts
    )
    shifts = tuple(
        PhaseShift(tuple(p["steps"]), p["phase"], tuple(p["when_given"]))
        for p in plan_doc["phases"]
    )
    rulebook = Rulebook(
        directory,
        facts,
        categories,
        steps,
        rules,
        tests,
        facts_doc["range_labels"],
        digest.hexdigest()[:16],
        implications,
        conflicts,
        superseded_by,
        shifts,
        _source_labels(steps, steps_doc),
        messages,
    )
    # The proof that no declared conflict can be given: complete for the condition
    # language (a SAT search over every fact's value classes), so also at every reload.
    found = find_conflicts(rulebook)
    if found:
        raise RulesError("\n".join(w.message() for w in found))
    return rulebook


def _source_labels(steps: dict, doc: dict) -> dict:
    labels = doc["source_labels"]
    return {
        step.id: {
            lang: labels[step.source][lang].replace(
                "{section}", doc["sections"][step.section][lang]
            )
            for lang in LANGS
        }
        for step in steps.values()
    }


def _implications(path: Path, entries: list, facts: dict, fact_types: dict) -> tuple:
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: implications[{i}]"
        try:
            when = parse(entry["when"], fact_types)
        except ConditionError as error:
            raise RulesError(f"{where}: {error}") from None
        then = {}
        for name, value in entry["then"].items():
            fact = facts.get(name)
            if fact is None:
                raise RulesError(f"{where}: then.{name}: unknown fact {name!r}")
            if fact.type == "list" or not _valid_value(fact, value):
                raise RulesError(f"{where}: then.{name}: {value!r} is not a value of {name}")
            if name in when.reads:
                raise RulesError(f"{where}: then.{name}: a fact cannot imply itself")
            then[name] = value
        out.append(Implication(i, when, entry["when"], to_python(when), then, entry["why"]))
    return tuple(out)


def _valid_value(fact: Fact, value: Any) -> bool:
    if fact.type == "boolean":
        return type(value) is bool
    if fact.type == "integer":
        low, high = fact.bounds
        return type(value) is int and low <= value <= high
    return value in fact.values


def _reason(path: Path, rule: dict, facts: dict) -> dict:
    """The rule's reason sentences; a placeholder must name an integer fact the rule needs."""
    needed = {
        part.fact
        for part in rule["when"].parts
        if isinstance(part, Check) and not part.if_unknown and ("known", False) not in part.ops
    }
    for lang, text in rule["reason"].items():
        for name in PLACEHOLDER.findall(text):
            fact = facts.get(name)
            if fact is None or fact.type != "integer" or name not in needed:
                raise RulesError(
                    f"{path}: rule {rule['id']!r}: reason.{lang}: {{{name}}} must name an "
                    "integer fact that the rule's conditions need known"
                )
        if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
            raise RulesError(f"{path}: rule {rule['id']!r}: reason.{lang}: unbalanced braces")
    return dict(rule["reason"])


def _supersession(path: Path, plan: dict, steps: dict) -> tuple[dict, tuple]:
    """Who supersedes whom, checked to have no cycle; each pair is also a conflict."""
    over: dict[str, list] = {}
    conflicts = []
    for entry in plan["supersedes"]:
        for step in entry["over"]:
            over.setdefault(step, []).append(entry["step"])
            conflicts.append(Conflict((entry["step"], step), entry["why"], True))
    state: dict[str, int] = {}

    def visit(step: str, trail: list) -> None:
        if state.get(step) == 2:
            return
        if state.get(step) == 1:
            cycle = trail[trail.index(step) :] + [step]
            raise RulesError(f"{path}: supersedes: a cycle: {' <- '.join(cycle)}")
        state[step] = 1
        for by in over.get(step, ()):
            visit(by, trail + [step])
        state[step] = 2

    for step in over:
        visit(step, [])
    return {s: tuple(by) for s, by in over.items()}, tuple(conflicts)


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise RulesError(f"{path}: larger than {MAX_RULE_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"{path}: cannot be read: {error}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (it would keep the
    last one silently: a rule's second `when` or a supersession's second `over`)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader underneath
    except yaml.YAMLError as error:
        raise RulesError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise RulesError(f"{path}: must be a YAML mapping")
    return document


def _validate(path: Path, schema: ma.Schema, document: Any) -> dict:
    try:
        return schema.load(document)
    except ma.ValidationError as error:
        raise RulesError("\n".join(_describe(path, document, error.messages))) from None


def _describe(path: Path, document: Any, messages: Any) -> list[str]:
    """Turn marshmallow's nested messages into lines naming the file and the rule id."""
    lines = []
    for where, problem in message_paths(messages):
        head = str(path)
        parts = where.split(".")
        if len(parts) >= 2 and parts[0] == "rules" and parts[1].isdigit():
            rules = document.get("rules") if isinstance(document, dict) else None
            index = int(parts[1])
            rule_id = None
            if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
                rule_id = rules[index].get("id")
            head += f": rule {rule_id!r}" if rule_id else f": rule #{index + 1}"
            where = ".".join(parts[2:])
        lines.append(f"{head}: {where}: {problem}" if where else f"{head}: {problem}")
    return lines


def _fact(data: dict) -> Fact:
    return Fact(
        data["name"],
        data["type"],
        data["description"],
        tuple(data.get("values") or ()),
        data.get("min"),
        data.get("max"),
        data.get("required", False),
        data.get("question"),
        data.get("labels") or {},
        data.get("priority", 0),
    )
