"""Ready-to-send messages, composed from the plan's steps (rules/messages.yaml).

A message kind is one letter to one recipient (the client, or the platform's support) for
one phase of the plan: `now` by default, `fallback` (the escalation letters) on request.
Each step whose action is a message has a block of text, in English and Russian; a
message holds the blocks of the plan's steps of its recipient and phase, in plan order,
between an opening and a closing: a silent client gets one letter that asks whether all
is well, says why the answer matters and that the work is paused, not four letters.

Placeholders (`{client_name}`, `{amount}`, ...) come from the case's `context`, never from
its facts, so a message changes no step. Every text is a list of variants: the first whose
placeholders the context fills is used, and the last has none, so a message never shows an
unfilled placeholder. Values are inserted as plain text, once: a value that looks like a
placeholder stays as it is.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.case import CONTEXT_FIELDS
from schemas.common import LANGS
from service.exceptions import DisputeGuideError

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
}


_RU_SIGNS = {"RUB": "₽"}  # currencies a Russian letter writes with a sign, not the code


class MessagesError(DisputeGuideError, ValueError):
    """messages.yaml cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class MessageKind:
    id: str
    to: str
    phase: str
    purpose: dict  # lang -> text
    subject: dict  # lang -> variants
    opening: dict
    closing: dict


@dataclass(frozen=True)
class Block:
    step: str
    to: str
    demand: bool
    texts: dict  # lang -> variants


@dataclass(frozen=True)
class Templates:
    max_length: int
    kinds: tuple  # MessageKind, in file order
    blocks: dict  # step id -> Block
    not_messages: frozenset

    def kind_for(self, to: str, phase: str) -> MessageKind | None:
        return next((k for k in self.kinds if k.to == to and k.phase == phase), None)


def templates(path: Path, document: dict, steps: Iterable[str]) -> Templates:
    """Check a validated messages.yaml against the steps and the context; raise MessagesError."""
    steps = set(steps)
    kinds: list[MessageKind] = []
    seen: set = set()
    for kind in document["messages"]:
        where = f"{path}: message {kind['id']!r}"
        if (kind["to"], kind["phase"]) in seen or kind["id"] in {k.id for k in kinds}:
            raise MessagesError(f"{where}: a second message to {kind['to']} for {kind['phase']}")
        seen.add((kind["to"], kind["phase"]))
        for part in ("subject", "opening", "closing"):
            _check_variants(f"{where}: {part}", kind[part])
        kinds.append(
            MessageKind(
                kind["id"],
                kind["to"],
                kind["phase"],
                kind["purpose"],
                kind["subject"],
                kind["opening"],
                kind["closing"],
            )
        )
    blocks: dict[str, Block] = {}
    for block in document["blocks"]:
        where = f"{path}: block {block['step']!r}"
        if block["step"] not in steps:
            raise MessagesError(f"{where}: unknown step (steps are in steps.yaml)")
        if block["step"] in blocks:
            raise MessagesError(f"{where}: a second block for the same step")
        if not any(k.to == block["to"] for k in kinds):
            raise MessagesError(f"{where}: no message goes to {block['to']}")
        texts = {lang: block[lang] for lang in LANGS}
        _check_variants(where, texts)
        blocks[block["step"]] = Block(block["step"], block["to"], block["demand"], texts)
    unknown = sorted(set(document["not_messages"]) - steps)
    if unknown:
        raise MessagesError(f"{path}: not_messages: unknown steps {unknown}")
    both = sorted(set(document["not_messages"]) & set(blocks))
    if both:
        raise MessagesError(f"{path}: not_messages: {both} have blocks")
    return Templates(
        document["max_length"], tuple(kinds), blocks, frozenset(document["not_messages"])
    )


def _check_variants(where: str, texts: Mapping[str, list]) -> None:
    for lang, variants in texts.items():
        for text in variants:
            names = PLACEHOLDER.findall(text)
            undefined = sorted(set(names) - set(CONTEXT_FIELDS))
            if undefined:
                raise MessagesError(
                    f"{where}: {lang}: placeholders the context does not "
                    f"define: {undefined} (it defines {list(CONTEXT_FIELDS)})"
                )
            if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
                raise MessagesError(f"{where}: {lang}: a brace that is no placeholder")
        if PLACEHOLDER.search(variants[-1]):
            raise MessagesError(
                f"{where}: {lang}: the last variant must have no placeholder, "
                "so that a missing value falls back to neutral wording"
            )


def values(context: Mapping[str, Any] | None, lang: str) -> dict[str, str]:
    """The context's values as the text a placeholder takes, in `lang`."""
    if not context:
        return {}
    out = {}
    for name in ("client_name", "freelancer_name", "project", "platform_name"):
        if context.get(name):
            out[name] = context[name]
    if context.get("amount") is not None:
        out["amount"] = _money(context["amount"], context.get("currency"), lang)
    for name in ("due_date", "reply_by", "new_date"):
        if context.get(name) is not None:
            out[name] = _date(context[name], lang)
    return out


def _money(amount: float, currency: str | None, lang: str) -> str:
    whole = f"{amount:,.2f}" if amount != int(amount) else f"{int(amount):,}"
    if lang == "ru":
        whole = whole.replace(",", "\u00a0").replace(".", ",")
        # A Russian letter writes roubles with their sign, as people do: "45 000 ₽".
        currency = _RU_SIGNS.get(currency or "", currency)
    return f"{whole} {currency}" if currency else whole


def _date(day: dt.date, lang: str) -> str:
    month = _MONTHS[lang][day.month - 1]
    return f"{day.day} {month} {day.year}" + (" г." if lang == "ru" else "")


def fill(variants: list, filled: Mapping[str, str]) -> str:
    """The first variant whose placeholders are all filled, with the values put in once."""
    for text in variants:
        names = placeholders(text)
        if not names:
            return text
        if all(name in filled for name in names):
            return PLACEHOLDER.sub(lambda m: _value(m, filled), text)
    raise ValueError("no variant without placeholders (the loader refuses such templates)")


@functools.lru_cache(maxsize=8192)
def placeholders(text: str) -> tuple[str, ...]:
    """The placeholders of a template's text (its texts are few and filled for every case:
    found once each, not searched for in every letter)."""
    return tuple(PLACEHOLDER.findall(text))


def _value(match: re.Match, filled: Mapping[str, str]) -> str:
    value = filled[match.group(1)]
    following = match.string[match.end() : match.end() + 1]
    # "15 марта 2027 г." at the end of a sentence takes one full stop, not two.
    return value[:-1] if value.endswith(".") and following == "." else value


def compose(
    found: Templates | None,
    plan: Iterable,
    context: Mapping[str, Any] | None,
    lang: str,
    phases: Iterable[str],
) -> list[dict]:
    """The messages for a plan (PlannedStep, in plan order), for the given phases."""
    if found is None:
        return []
    lang = (context or {}).get("language") or lang
    filled = values(context, lang)
    plan = list(plan)
    messages = []
    for kind in found.kinds:
        if kind.phase not in phases:
            continue
        covered = [
            p.step.id
            for p in plan
            if p.phase == kind.phase
            and (block := found.blocks.get(p.step.id)) is not None
            and block.to == kind.to
        ]
        if not covered:
            continue
        opening = fill(kind.opening[lang], filled)
        closing = fill(kind.closing[lang], filled)
        # A letter that would be too long to send goes on in a second one, and so on.
        parts: list[list[tuple[str, str]]] = [[]]
        size = len(opening) + len(closing) + 4
        for step in covered:
            text = fill(found.blocks[step].texts[lang], filled)
            if parts[-1] and size + len(text) + 2 > found.max_length:
                parts.append([])
                size = len(opening) + len(closing) + 4
            parts[-1].append((step, text))
            size += len(text) + 2
        subject = fill(kind.subject[lang], filled)
        for n, part in enumerate(parts, 1):
            body = "\n\n".join(text for _, text in part)
            messages.append(
                {
                    "id": kind.id if n == 1 else f"{kind.id}-{n}",
                    "purpose": kind.purpose[lang],
                    "to": kind.to,
                    "phase": kind.phase,
                    "lang": lang,
                    "subject": subject if len(parts) == 1 else f"{subject} ({n}/{len(parts)})",
                    "text": f"{opening}\n\n{body}\n\n{closing}",
                    "covers": [step for step, _ in part],
                }
            )
    return messages
