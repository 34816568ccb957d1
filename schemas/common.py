"""What the schemas, and through them the whole project, share: the languages."""

from __future__ import annotations

LANGS = ("en", "ru")  # every text of the rules and of the answers is in each of these
DEFAULT_LANG = "en"  # an answer's language when none is asked for, or one not in LANGS
