"""Loading the rules folder: facts, the step catalogue and the rule files, validated.

Loading is separate from evaluating (service/engine.py): a Rulebook is plain data
that the engine compiles, the questions analyse and the API describes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml

from schemas.rules import FactsFileSchema, RuleFileSchema, StepCatalogueSchema
from service.conditions import All, FactType, Predicate, thresholds, to_python
from service.resources import bundled

FACTS_FILE = "facts.yaml"
STEPS_FILE = "steps.yaml"
DEFAULT_RULES_DIR = bundled("rules")
MAX_RULE_FILE_BYTES = 1 << 20


class RulesError(Exception):
    """The rules folder cannot be used; the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    description: str
    values: tuple = ()
    min: int | None = None
    max: int | None = None
    required: bool = False
    question: dict | None = None
    labels: dict = field(default_factory=dict)

    @property
    def group(self) -> str | None:
        return self.name.split(".")[0] if "." in self.name else None

    @property
    def key(self) -> str:
        return self.name.split(".")[-1]


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    category: str
    order: int
    section: str
    texts: dict  # lang -> {"title", "detail"}
    rank: tuple  # (category position, order): the sort key of an answer's steps


@dataclass(frozen=True)
class Rule:
    id: str
    file: str
    description: str
    when: All
    source: Any  # the `when` as written, for GET /v1/rules
    add: tuple
    remove: tuple
    reads: tuple
    test: Predicate


@dataclass(frozen=True)
class RuleTest:
    file: str
    name: str
    case: dict
    expect: tuple
    forbid: tuple


@dataclass
class Rulebook:
    directory: Path
    facts: dict[str, Fact]
    categories: tuple
    steps: dict[str, Step]
    rules: list[Rule]
    tests: list[RuleTest]
    range_labels: dict
    version: str
    rules_reading: dict[str, tuple] = field(init=False)
    cuts: dict[str, tuple] = field(init=False)

    def __post_init__(self):
        reading: dict[str, list] = {}
        for rule in self.rules:
            for name in rule.reads:
                reading.setdefault(name, []).append(rule)
        self.rules_reading = {name: tuple(rules) for name, rules in reading.items()}
        self.cuts = {
            name: tuple(sorted(set().union(*(thresholds(r.when, name) for r in rules))))
            for name, rules in self.rules_reading.items()
            if self.facts[name].type == "integer"
        }


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
    for needed in (FACTS_FILE, STEPS_FILE):
        if needed not in documents:
            raise RulesError(f"{directory / needed}: missing")

    facts_doc = _validate(directory / FACTS_FILE, FactsFileSchema(), documents.pop(FACTS_FILE))
    facts = {f["name"]: _fact(f) for f in facts_doc["facts"]}
    steps_doc = _validate(directory / STEPS_FILE, StepCatalogueSchema(), documents.pop(STEPS_FILE))
    categories = tuple(steps_doc["categories"])
    steps = {
        s["id"]: Step(s["id"], s["kind"], s["category"], s["order"], s["section"],
                      {lang: s[lang] for lang in ("en", "ru")},
                      (categories.index(s["category"]), s["order"], s["id"]))
        for s in steps_doc["steps"]
    }
    if not documents:
        raise RulesError(f"{directory}: no rule files (*.yaml besides {FACTS_FILE}, {STEPS_FILE})")

    fact_types = {n: FactType(n, f.type, f.values) for n, f in facts.items()}
    rules: list[Rule] = []
    tests: list[RuleTest] = []
    owner: dict[str, str] = {}
    for name, document in documents.items():
        schema = RuleFileSchema(facts=fact_types, steps=set(steps))
        loaded = _validate(directory / name, schema, document)
        for raw, rule in zip(document["rules"], loaded["rules"]):
            if rule["id"] in owner:
                raise RulesError(f"{directory / name}: rule {rule['id']!r}: duplicate rule id "
                                 f"{rule['id']!r} (also in {owner[rule['id']]})")
            owner[rule["id"]] = name
            rules.append(Rule(rule["id"], name, rule["description"], rule["when"], raw["when"],
                              tuple(rule["add"]), tuple(rule["remove"]),
                              tuple(n for n in facts if n in rule["when"].reads),
                              to_python(rule["when"])))
        tests.extend(RuleTest(name, t["name"], t["case"], tuple(t["expect"]), tuple(t["forbid"]))
                     for t in loaded["tests"])

    return Rulebook(directory, facts, categories, steps, rules, tests,
                    facts_doc["range_labels"], digest.hexdigest()[:16])


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise RulesError(f"{path}: larger than {MAX_RULE_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"{path}: cannot be read: {error}") from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        document = yaml.safe_load(text)
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
    for where, problem in _flatten(messages):
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


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = key if key != "_schema" else ""
            path = f"{prefix}.{name}".strip(".") if name != "" else prefix
            out.extend(_flatten(value, path))
        return out
    if isinstance(messages, list):
        return [(prefix, str(m)) for m in messages]
    return [(prefix, str(messages))]


def _fact(data: dict) -> Fact:
    return Fact(data["name"], data["type"], data["description"], tuple(data.get("values") or ()),
                data.get("min"), data.get("max"), data.get("required", False),
                data.get("question"), data.get("labels") or {})


def tally(rules) -> tuple[dict[str, list[Rule]], dict[str, list[Rule]], dict[str, int]]:
    """What fired rules lead to: (the steps given, each with the rules that added it;
    every added step with its adders; how many rules remove each step).

    A step that any fired rule removes is left out, whoever added it: removal is how
    a rule makes other advice give way (fraud signals silence the persuading steps).
    """
    adders: dict[str, list[Rule]] = {}
    removers: dict[str, int] = {}
    for rule in rules:
        for step in rule.add:
            if step in adders:
                adders[step].append(rule)
            else:
                adders[step] = [rule]
        for step in rule.remove:
            removers[step] = removers.get(step, 0) + 1
    if not removers:
        return adders, adders, removers
    given = {step: by for step, by in adders.items() if step not in removers}
    return given, adders, removers
