"""The page and its assets, without a browser: served by the service, nothing from elsewhere."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = re.compile(r"https?://|(?:src|href)\s*=\s*[\"']?//|url\(\s*[\"']?//|@import", re.I)


class Assets(HTMLParser):
    """The URLs a page loads by itself: scripts, style sheets, icons, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def parse(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def fetch(client, url: str, **kwargs) -> tuple[int, str, dict]:
    """Status, text and headers; the response is closed (static files are open files)."""
    response = client.get(url, **kwargs)
    try:
        return response.status_code, response.get_data(as_text=True), response.headers
    finally:
        response.close()


def test_the_page_is_served_at_the_root(client):
    response = client.get("/?lang=en")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="en"' in html
    assert 'id="case-form"' in html and 'id="result"' in html
    assert 'aria-live="polite"' in html
    assert response.headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    "lang, header, expected",
    [("ru", None, "ru"), (None, "ru-RU,ru;q=0.9", "ru"), (None, None, "en"), ("xx", None, "en")],
)
def test_the_first_language_is_negotiated(client, lang, header, expected):
    url = "/" + (f"?lang={lang}" if lang else "")
    response = client.get(url, headers={"Accept-Language": header} if header else {})
    assert f'<html lang="{expected}"' in response.get_data(as_text=True)
    assert response.headers["Content-Language"] == expected
    assert "Accept-Language" in response.headers["Vary"]


def test_the_page_and_every_asset_come_from_the_service(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    # The curl command shown for integrators names the service itself; it is text, not a load.
    curl = re.search(r'<textarea id="case-curl"[^>]*>([^<]*)</textarea>', html)
    assert curl and "&#39;http://localhost/v1/guidance?lang=en&#39;" in curl[1]
    html = html.replace(curl[1], "")
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assets = parse(html).urls
    local = [u for u in assets if not u.startswith("data:")]
    assert {u.rsplit("/", 1)[-1] for u in local} >= {"page.js", "page.css"}
    for url in local:
        assert url.startswith("/static/"), url
        status, text, _ = fetch(client, url)
        assert status == 200, url
        match = EXTERNAL.search(text)
        assert match is None, (
            f"{url} refers elsewhere: {text[match.start() - 40 : match.end() + 40]}"
        )


def test_the_browser_is_told_to_load_nothing_from_elsewhere(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'"


def test_embed_mode_leaves_out_the_header_and_the_footer(client):
    full = parse(client.get("/").get_data(as_text=True)).tags
    embedded = parse(client.get("/?embed=1").get_data(as_text=True)).tags
    assert "header" in full and "footer" in full
    assert "header" not in embedded and "footer" not in embedded
    assert "form" in embedded and "main" in embedded


def test_both_languages_of_the_page_have_the_same_words(client):
    # Every key of the page's own dictionary exists in English and in Russian.
    words = json.loads((ROOT / "service" / "templates" / "i18n.json").read_text("utf-8"))
    assert set(words) == {"en", "ru"}
    assert set(words["en"]) == set(words["ru"])
    # And every data-i18n key in the template is in the dictionary.
    html = client.get("/").get_data(as_text=True)
    used = set(re.findall(r'data-i18n(?:-content)?="([\w.]+)"', html))
    assert used and used <= set(words["en"])


def test_the_page_does_not_answer_other_methods(client):
    assert client.post("/").status_code == 405


class Visible(HTMLParser):
    """The text a person sees before any script runs (no <script> data, no <noscript>)."""

    def __init__(self):
        super().__init__()
        self.skip = 0
        self.title = ""
        self.in_title = False
        self.text: list[str] = []
        self.description = None

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "noscript", "textarea"):
            self.skip += 1
        self.in_title = tag == "title"
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("name") == "description":
            self.description = attrs.get("content")

    def handle_endtag(self, tag):
        if tag in ("script", "noscript", "textarea"):
            self.skip -= 1
        self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        elif not self.skip and data.strip():
            self.text.append(data.strip())


@pytest.mark.parametrize(
    "query, headers", [("?lang=ru", {}), ("", {"Accept-Language": "ru-RU,ru;q=0.9"})]
)
def test_russian_is_served_in_russian_before_any_script_runs(client, query, headers):
    html = client.get("/" + query, headers=headers).get_data(as_text=True)
    words = json.loads((ROOT / "service" / "templates" / "i18n.json").read_text("utf-8"))
    seen = Visible()
    seen.feed(html)
    assert seen.title == words["ru"]["page_title"]
    assert seen.description == words["ru"]["meta_description"]
    text = " | ".join(seen.text)
    for key in ("heading", "form_heading", "evaluate", "result_heading", "result_empty"):
        assert words["ru"][key] in text
    assert "Была ли предоплата?" in text and "Клиент пропал" in text  # the form, from the rules
    for english in ("Get advice", "Your case", "Don't know", "What is happening", "Yes", "No"):
        assert english not in seen.text and english not in text, english
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<title data-i18n="page_title">' + words["en"]["page_title"] in english


def test_the_form_is_in_the_page_with_every_fact(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    facts = client.get("/v1/rules?lang=en").get_json()["facts"]
    for fact in facts:
        if fact["name"] != "case_id":
            assert f'data-fact="{fact["name"]}"' in html, fact["name"]
    assert "Loading the form" not in html
