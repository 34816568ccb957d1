"""What a worker serves from: the rulebook, its compiled engine and its case schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import marshmallow as ma
from flask import current_app

from schemas.case import case_schema
from service.engine import Engine
from service.rulebook import Rulebook, load_rulebook

PROBE_CASE = {"case_id": "readiness-probe", "situations": ["conflict"]}
EXTENSION = "dispute_guide"


@dataclass(frozen=True)
class Loaded:
    rulebook: Rulebook
    engine: Engine
    schema: ma.Schema

    @property
    def version(self) -> str:
        return self.rulebook.version


def load(rules_dir: str | Path | None) -> Loaded:
    """Load, validate and compile a rules folder, and prove it with the probe case."""
    rulebook = load_rulebook(rules_dir or None)
    engine = Engine(rulebook)
    engine.evaluate(PROBE_CASE)
    return Loaded(rulebook, engine, case_schema(rulebook.facts.values())())


def loaded() -> Loaded:
    """The rules the current app serves."""
    return current_app.extensions[EXTENSION]
