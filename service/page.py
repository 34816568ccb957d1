"""GET /: a page for people to try a case in the browser.

(Placeholder: issue 7 fills this in.)
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("page", __name__)
