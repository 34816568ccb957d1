"""GET /: a page for people to try a case in the browser.

The page is one HTML template plus plain CSS and JavaScript in service/static/, all
served by this service: nothing is fetched from anywhere else, and the Content-Security-
Policy below makes the browser refuse it if anything ever tried.

The server renders the whole page in the language asked for (`?lang=en|ru`, else
Accept-Language): its own words (from templates/i18n.json), and the form, built from the
same description of the facts that GET /v1/rules gives (types, values, bounds, questions,
labels). So the first paint is final, in the right language, and nothing moves when the
script starts; a new fact in rules/facts.yaml shows up on the page with no change here.
The script switches the language by fetching this page in the other language and taking
its form and words.

`?embed=1` leaves out the header and the footer, for an iframe in a CRM. Which sites may
frame the page is DISPUTE_GUIDE_FRAME_ORIGINS (CSP `frame-ancestors`, see security.py);
the page tells an allowed parent what happens with `postMessage` (see page.js).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request, url_for

from schemas.common import DEFAULT_LANG, LANGS
from service import security
from service.api import describe_facts
from service.config import parse_bool
from service.http import negotiate_lang
from service.state import loaded

bp = Blueprint("page", __name__, template_folder="templates")

# Only this origin: no CDN, no inline script or style, no plug-ins. Who may frame the page
# is added per answer (frame-ancestors).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)

TEXTS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "templates" / "i18n.json").read_text(encoding="utf-8")
)
# An enumeration value that means "I don't know": the form's own "don't know" stands for it.
DONT_KNOW_VALUE = "unknown"


class Words:
    """The page's own words in one language, English where a word is missing."""

    def __init__(self, lang: str):
        self.lang = lang
        self.own = TEXTS.get(lang, {})

    def lookup(self, key: str) -> Any:
        if key in self.own:
            return self.own[key]
        return TEXTS[DEFAULT_LANG].get(key)

    def has(self, key: str) -> bool:
        return self.lookup(key) is not None

    def __call__(self, key: str, **params: Any) -> str:
        text = self.lookup(key)
        text = key if text is None else str(text)
        return re.sub(r"\{(\w+)\}", lambda m: str(params[m[1]]) if m[1] in params else m[0], text)


def control_id(name: str) -> str:
    return "fact-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def field(fact: dict, t: Words) -> dict:
    """What the template needs to draw one fact's control."""
    labels = fact.get("labels") or {}
    label = fact.get("question") or (
        t(f"fact.{fact['name']}")
        if t.has(f"fact.{fact['name']}")
        else fact.get("description") or fact["name"]
    )
    out = {
        "name": fact["name"],
        "type": fact["type"],
        "id": control_id(fact["name"]),
        "label": label,
        "required": fact.get("required", False),
    }
    if fact["type"] == "list":
        out["choices"] = [(v, labels.get(v, v)) for v in fact.get("values", ())]
    elif fact["type"] == "boolean":
        out["choices"] = [
            ("true", labels.get("yes") or t("yes")),
            ("false", labels.get("no") or t("no")),
            ("", t("unknown")),
        ]
    elif fact["type"] == "enum":
        values = list(fact.get("values", ()))
        dont_know = t("unknown_option")
        if DONT_KNOW_VALUE in values:  # one "don't know" per control, in the fact's words
            values.remove(DONT_KNOW_VALUE)
            dont_know = labels.get(DONT_KNOW_VALUE, dont_know)
        out["options"] = [("", dont_know)] + [(v, labels.get(v, v)) for v in values]
    elif fact["type"] == "integer":
        low = "\u2212\u221e" if fact.get("min") is None else fact["min"]
        high = "\u221e" if fact.get("max") is None else fact["max"]
        out["min"], out["max"] = fact.get("min"), fact.get("max")
        out["hint"] = t("number_hint", min=low, max=high)
    return out


def form_layout(facts: list[dict], t: Words) -> tuple[list[dict], list[dict]]:
    """The required facts first on their own, then the others grouped by their prefix."""
    lead: list[dict] = []
    groups: list[dict] = []
    by_group: dict[str, list[dict]] = {}
    for fact in facts:
        if fact["name"] == "case_id":
            continue
        if fact.get("required"):
            lead.append(field(fact, t))
            continue
        group = fact["name"].split(".", 1)[0] if "." in fact["name"] else ""
        if group not in by_group:
            by_group[group] = []
            key = f"group.{group}"
            title = t(key) if t.has(key) else (group[:1].upper() + group[1:].replace("_", " "))
            groups.append({"key": group or "general", "title": title, "fields": by_group[group]})
        by_group[group].append(field(fact, t))
    return lead, groups


def page_data(lang: str, facts: list[dict], embed: bool, version: str) -> dict:
    """What the script needs, in the page itself (a JSON data block, not a script)."""
    keep = ("name", "type", "required", "values", "min", "max", "question", "labels")
    return {
        "lang": lang,
        "texts": {**TEXTS[DEFAULT_LANG], **TEXTS.get(lang, {})},
        "facts": [{k: f[k] for k in keep if k in f} for f in facts],
        "ruleset_version": version,
        "embed": embed,
        "frame_origins": list(security.frame_origins(current_app.config)),
    }


def curl_rows(keys: bool) -> int:
    """The curl box's height for the empty case, as the script sets it (lines + 1)."""
    return (4 if keys else 3) + 1


@bp.get("/")
def index():
    """The page: pick situations, fill in facts, read the advice."""
    lang = negotiate_lang()
    embed = parse_bool(request.args.get("embed", "")) is True
    state = loaded()
    t = Words(lang)
    facts = describe_facts(state.rulebook, lang)
    lead, groups = form_layout(facts, t)
    keys = bool(current_app.config["API_KEYS"] or current_app.config["API_KEYS_FILE"])
    curl = " \\\n".join(
        [
            "curl -sS -X POST '" + url_for("v1.guidance", lang=lang, _external=True) + "'",
            "  -H 'Content-Type: application/json'",
        ]
        + (['  -H "Authorization: Bearer $DISPUTE_GUIDE_API_KEY"'] if keys else [])
        + ["  --data-binary '{}'"]
    )
    html = render_template(
        "page.html",
        lang=lang,
        langs=LANGS,
        embed=embed,
        t=t,
        lead=lead,
        groups=groups,
        ruleset_version=state.version,
        curl=curl,
        curl_rows=curl_rows(keys),
        data=page_data(lang, facts, embed, state.version),
    )
    response = make_response(html)
    response.headers["Content-Security-Policy"] = CSP
    security.frame_headers(response, security.frame_origins(current_app.config))
    response.headers["Content-Language"] = lang
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.vary.add("Accept-Language")
    return response
