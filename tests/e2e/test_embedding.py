"""Embedding in a CRM: a host page on another loopback origin frames the page.

The service allows the origins of DISPUTE_GUIDE_CORS_ORIGINS to frame it (by default), and
in embed mode posts its events to that origin only. A host on an origin that is not
allowed is refused by the browser itself (CSP frame-ancestors).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser import artifacts, chromium_paths, driver, page  # noqa: F401  (fixtures)
from conftest import Server

pytestmark = pytest.mark.server

CASE = {
    "case_id": "crm-1042",
    "situations": ["client_silent"],
    "prepayment": "partial",
    "client": {"silent_days": 14},
}

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>A CRM</title></head>
<body>
<h1>Case crm-1042</h1>
<iframe id="guide" title="Dispute guide" src="{src}" width="420" height="900"></iframe>
<script>
  window.events = [];
  window.addEventListener("message", function (event) {{
    if (event.origin !== "{service}") return;  // only the dispute guide's own events
    if (!event.data || event.data.source !== "dispute-guide") return;
    window.events.push({{origin: event.origin, data: event.data}});
  }});
</script>
</body>
</html>
"""


class Host:
    """A host page (a CRM) served from its own loopback address and port."""

    def __init__(self, address: str):
        self.html = b""
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(host.html)))
                self.end_headers()
                self.wfile.write(host.html)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def frame(self, server) -> Host:
        """The host page frames the service's page in embed mode, with a case."""
        self.html = HOST_PAGE.format(src=frame_src(server), service=server.url).encode()
        return self

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def crm():
    """The allowed host, on 127.0.0.2."""
    with Host("127.0.0.2") as host:
        yield host


@pytest.fixture(scope="module")
def embeddable(crm):
    """The service with the CRM as a CORS origin: so, by default, allowed to frame it."""
    server = Server(env={"DISPUTE_GUIDE_CORS_ORIGINS": crm.url}, workers=1)
    server.start()
    yield server
    server.stop()


def frame_src(server) -> str:
    return server.url + "/?embed=1&lang=en#case=" + urllib.parse.quote(json.dumps(CASE))


def events(page, kind: str | None = None) -> list[dict]:
    found = page.driver.execute_script("return window.events || []")
    return [e for e in found if kind is None or e["data"]["type"] == kind]


def test_an_allowed_origin_frames_the_page_and_gets_its_events(page, embeddable, crm, artifacts):
    crm.frame(embeddable)
    page.driver.get(crm.url + "/")
    # The frame loads, reads the case from its address, asks, and tells the host.
    page.wait_for(lambda d: events(page, "plan_shown"), "the plan_shown event")
    ready = events(page, "ready")[0]
    assert ready["origin"] == embeddable.url
    assert ready["data"]["version"] == 1 and ready["data"]["lang"] == "en"

    shown = events(page, "plan_shown")[0]["data"]
    assert shown["case_id"] == "crm-1042" and shown["case"] == CASE
    assert shown["lang"] == "en"
    assert shown["ruleset_version"] == ready["data"]["ruleset_version"]
    assert "keep-reaching-out" in shown["step_ids"]
    assert [s["id"] for s in shown["steps"]] == shown["step_ids"]
    assert shown["questions"]

    # Inside the frame: the same steps; a person answers a question.
    page.driver.switch_to.frame(page.find("#guide"))
    try:
        assert page.step_ids() == shown["step_ids"]
        # The escrow question (an answer to the fraud question would end the client letter).
        option = page.find('button.option[data-field="platform.escrow"]')
        field = option.get_attribute("data-field")
        value = json.loads(option.get_attribute("data-value"))
        revision = page.revision
        page.answer(field, value)
        page.wait_for_result(revision)
        steps_now = page.step_ids()
        # Copying a ready-to-send message is told too, with the text as copied.
        letter = page.find('li.message[data-message-id="client-now"]')
        letter_text = letter.find_element("css selector", "textarea").get_attribute("value")
        page.click(letter.find_element("css selector", "button.message__copy"))
    finally:
        page.driver.switch_to.default_content()
    page.wait_for(lambda d: events(page, "message_copied"), "the message_copied event")
    copied = events(page, "message_copied")[0]
    assert copied["origin"] == embeddable.url
    assert copied["data"]["case_id"] == "crm-1042"
    assert copied["data"]["message_id"] == "client-now" and copied["data"]["to"] == "client"
    assert copied["data"]["part"] == "text" and copied["data"]["text"] == letter_text
    assert copied["data"]["edited"] is False and copied["data"]["lang"] == "en"
    assert "keep-reaching-out" in copied["data"]["covers"]
    page.wait_for(lambda d: len(events(page, "plan_shown")) >= 2, "a second plan_shown")
    answered = events(page, "question_answered")
    assert len(answered) == 1
    assert answered[0]["data"]["field"] == field and answered[0]["data"]["value"] == value
    assert answered[0]["data"]["case"]["case_id"] == "crm-1042"
    assert events(page, "plan_shown")[-1]["data"]["step_ids"] == steps_now
    page.screenshot(artifacts / "embedded-in-a-crm.png")


def test_an_origin_that_is_not_allowed_is_refused_by_the_browser(page, embeddable):
    # 127.0.0.3 is another origin, not in CORS_ORIGINS: the browser must not show the page.
    with Host("127.0.0.3").frame(embeddable) as host:
        page.driver.get(host.url + "/")
        page.wait_for(
            lambda d: any("frame-ancestors" in e["message"] for e in d.get_log("browser")),
            "the browser to report the refused frame",
        )
        page.driver.switch_to.frame(page.find("#guide"))
        try:
            assert page.find_all("#case-form") == []
        finally:
            page.driver.switch_to.default_content()
        assert events(page) == []


def test_the_page_posts_nothing_when_not_framed(page):
    # Opened on its own (no parent), embed mode has no one to tell, and says nothing to "*".
    page.open("/?embed=1&lang=en")
    assert page.driver.execute_script("return window.parent === window")
    script = page.driver.execute_script("return fetch('/static/page.js').then(r => r.text())")
    assert "postMessage(" in script and '"*"' not in script.split("postMessage(", 1)[1][:200]
