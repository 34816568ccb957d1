"""GET /: a page for people to try a case in the browser.

The page is one HTML template plus plain CSS and JavaScript in service/static/, all
served by this service: nothing is fetched from anywhere else, and the Content-Security-
Policy below makes the browser refuse it if anything ever tried. The form is built in
the browser from GET /v1/rules (the facts, their types, bounds, questions and labels),
so a new fact in rules/facts.yaml shows up on the page with no change here.

`?embed=1` leaves out the header and the footer, for an iframe in a CRM; `?lang=en|ru`
(else Accept-Language) picks the first language, which the page can switch.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from service.api import LANGS, negotiate_lang
from service.state import loaded

bp = Blueprint("page", __name__, template_folder="templates")

# Only this origin: no CDN, no inline script or style, no plug-ins. Framing is allowed on
# purpose (the embed mode is for an iframe in a CRM).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'")

TRUE = ("1", "true", "yes", "on")


@bp.get("/")
def index():
    """The page: pick situations, fill in facts, read the advice."""
    lang = negotiate_lang()
    embed = request.args.get("embed", "").strip().lower() in TRUE
    html = render_template("page.html", lang=lang, langs=LANGS, embed=embed,
                           ruleset_version=loaded().version)
    response = make_response(html)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Content-Language"] = lang
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.vary.add("Accept-Language")
    return response
