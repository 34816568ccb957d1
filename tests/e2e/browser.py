"""Browser fixtures: Debian's headless Chromium driven by selenium against the real server.

tests/e2e/conftest.py hands these fixtures to the browser tests, which import the helpers
(filling in the page as a person would) from here.

The browser comes from the distribution (`tests/e2e/install-browser.sh`: apt-get install
chromium chromium-driver); no browser build is downloaded. The outside auditors, axe-core and
Lighthouse, come from npm, pinned (`tests/e2e/install-tools.sh`, which install-browser.sh
runs), into a folder outside the repository. Without it (or without selenium) the
browser tests are skipped with the reason, except under CI (the CI environment variable is
set), where a missing browser is a failure: CI must prove the page works.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
DRIVER_CANDIDATES = ("chromedriver", "/usr/lib/chromium/chromedriver")

# Headless, quiet and offline: no first-run pages, no background fetches, no updates.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
    "--lang=en-US",
)


def _find(candidates, env_var):
    given = os.environ.get(env_var)
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in candidates:
        found = (
            shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None)
        )
        if found:
            return found
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str):
    if in_ci():
        pytest.fail(
            f"{reason} (CI is set, so the browser tests must run: "
            "bash tests/e2e/install-browser.sh)",
            pytrace=False,
        )
    pytest.skip(f"{reason}; run `bash tests/e2e/install-browser.sh` to install it")


def phone(driver, width: int, height: int = 800) -> None:
    """A phone's viewport: `width` CSS pixels, the meta viewport honoured (mobile)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )


def desktop(driver) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def color_scheme(driver, scheme: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


@pytest.fixture(scope="session")
def chromium_paths():
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (pip install selenium)")
    browser = _find(CHROMIUM_CANDIDATES, "CHROMIUM_BIN")
    if not browser:
        _unavailable("Chromium is not installed (Debian package `chromium`)")
    driver = _find(DRIVER_CANDIDATES, "CHROMEDRIVER_BIN")
    if not driver:
        _unavailable("chromedriver is not installed (Debian package `chromium-driver`)")
    return browser, driver


def tools_dir() -> Path:
    """Where tests/e2e/install-tools.sh put axe-core and Lighthouse."""
    given = os.environ.get("DISPUTE_GUIDE_E2E_TOOLS")
    if given:
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dispute-guide-e2e"


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = tools_dir() / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        _unavailable(f"axe-core is not installed ({path})")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def lighthouse_bin(chromium_paths) -> str:
    path = tools_dir() / "node_modules" / ".bin" / "lighthouse"
    if not (path.exists() and shutil.which("node")):
        _unavailable(f"Lighthouse (npm) is not installed ({path})")
    return str(path)


@pytest.fixture(scope="session")
def driver(chromium_paths):
    """One headless Chromium for the session, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = chromium_paths
    profile = tempfile.mkdtemp(prefix="dispute-guide-chromium-")
    options = Options()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver)
    drv = webdriver.Chrome(options=options, service=service)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """What the tests do on the page, in the words of a person using it."""

    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    # navigation and waiting
    def open(self, path: str = "/?lang=en") -> Page:
        self.driver.get(self.base_url + path)
        self.wait_for(
            lambda d: d.find_element("css selector", "body").get_attribute("data-ready") == "true",
            "the form to be built",
        )
        return self

    def wait_for(self, condition, what: str, timeout: float = 15):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
            condition, message=f"waited {timeout}s for {what}"
        )

    def find(self, css: str):
        return self.driver.find_element("css selector", css)

    def find_all(self, css: str):
        return self.driver.find_elements("css selector", css)

    @property
    def revision(self) -> int:
        return int(self.find("#result-body").get_attribute("data-revision"))

    def wait_for_result(self, after: int, lang: str | None = None) -> None:
        """Until an answer newer than revision `after` is shown (in `lang`, if given)."""

        def shown(d):
            body = d.find_element("css selector", "#result-body")
            return (
                int(body.get_attribute("data-revision")) > after
                and body.get_attribute("data-state") == "ready"
                and (lang is None or body.get_attribute("data-lang") == lang)
            )

        self.wait_for(shown, f"advice newer than revision {after}")

    def click(self, element) -> None:
        """Scroll it to the middle of the window first, as a person would look at it."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    # filling in the form
    def fact(self, name: str):
        return self.find(f'.field[data-fact="{name}"]')

    def tick_situation(self, value: str) -> None:
        self.click(self.find(f'input[name="situations"][value="{value}"]'))

    def choose(self, name: str, value) -> None:
        """An enumeration (select) or a yes/no/unknown (radio) fact."""
        from selenium.webdriver.support.ui import Select

        field = self.fact(name)
        if field.get_attribute("data-type") == "enum":
            Select(field.find_element("css selector", "select")).select_by_value(value)
        else:
            wanted = {True: "true", False: "false", None: ""}[value]
            self.click(field.find_element("css selector", f'input[value="{wanted}"]'))

    def type_number(self, name: str, number, enter: bool = False) -> None:
        box = self.fact(name).find_element("css selector", "input")
        box.clear()
        box.send_keys(str(number) + ("\n" if enter else ""))

    def submit(self) -> None:
        self.click(self.find("#evaluate"))

    def switch_language(self, lang: str) -> None:
        self.click(self.find(f'[data-lang-switch="{lang}"]'))

    # reading the advice
    def step_ids(self) -> list[str]:
        return [li.get_attribute("data-step-id") for li in self.find_all("ol.steps > li.step")]

    def steps(self) -> list[dict]:
        out = []
        for li in self.find_all("ol.steps > li.step"):
            out.append(
                {
                    "id": li.get_attribute("data-step-id"),
                    "kind": li.get_attribute("data-kind"),
                    "classes": li.get_attribute("class").split(),
                    "title": li.find_element("css selector", ".step__title").text,
                    "badge": li.find_element("css selector", ".badge").text,
                    "rules": [
                        r.get_attribute("data-rule")
                        for r in li.find_elements("css selector", ".because > li")
                    ],
                    "because": li.find_element("css selector", ".step__because").text,
                    "new": "step--new" in li.get_attribute("class").split(),
                }
            )
        return out

    def questions(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for q in self.find_all("li.question"):
            out[q.get_attribute("data-field")] = [
                json.loads(b.get_attribute("data-value"))
                for b in q.find_elements("css selector", "button.option")
            ]
        return out

    def answer(self, field: str, value) -> None:
        self.click(
            self.find(f"button.option[data-field=\"{field}\"][data-value='{json.dumps(value)}']")
        )

    def status(self) -> str:
        return self.find("#result-status").text

    def phone_screenshot(self, path: Path, width: int) -> Path:
        """The whole page as a phone of `width` CSS pixels shows it, as one tall PNG."""
        height = self.driver.execute_script(
            "return Math.ceil(document.documentElement.scrollHeight)"
        )
        phone(self.driver, width, height)
        try:
            self.driver.execute_script("window.scrollTo(0, 0)")
            self.driver.save_screenshot(str(path))
        finally:
            phone(self.driver, width)
        return path

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG: the window is made as tall as the page for the shot."""
        size = self.driver.get_window_size()
        height = self.driver.execute_script(
            "return Math.ceil(document.documentElement.scrollHeight)"
        )
        self.driver.set_window_size(size["width"], max(size["height"], height + 120))
        try:
            self.driver.execute_script("window.scrollTo(0, 0)")
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(size["width"], size["height"])
        return path

    def browser_errors(self) -> list[dict]:
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def page(driver, server, request):
    """The browser, on a blank page of the real server; a failing test leaves a screenshot."""
    driver.get("about:blank")
    desktop(driver)
    color_scheme(driver, "light")
    driver.get_log("browser")  # drop what earlier tests left
    failures = request.session.testsfailed
    yield Page(driver, server.url)
    if request.session.testsfailed > failures:  # this test failed: keep what it saw
        ARTIFACTS.mkdir(exist_ok=True)
        Page(driver, server.url).screenshot(ARTIFACTS / f"failed-{request.node.name}.png")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- filling in the page as a person would ----------------------------------------------


def fill_silent_case(page) -> None:
    """The way a person would: tick the situation, pick the prepayment, type the days."""
    page.tick_situation("client_silent")
    page.choose("prepayment", "partial")
    page.type_number("client.silent_days", 14)
    before = page.revision
    page.submit()
    page.wait_for_result(before)


CONTEXT = {
    "client_name": "Anna <b>Lee</b>",
    "freelancer_name": "Igor",
    "project": "Logo redesign",
    "reply_by": "2027-03-15",
}


def fill_context(page, context: dict) -> None:
    """Opens "For the messages" and fills its fields as a person would (dates by script:
    a date box's typing order depends on the browser's locale)."""
    details = page.find("#context")
    if not details.get_attribute("open"):
        page.click(page.find("#context > summary"))
    for name, value in context.items():
        box = page.find(f'[data-context="{name}"]')
        if box.get_attribute("type") == "date" or box.tag_name == "select":
            page.driver.execute_script(
                "arguments[0].value = arguments[1];"
                "for (const t of ['input', 'change'])"
                "  arguments[0].dispatchEvent(new Event(t, {bubbles: true}));",
                box,
                str(value),
            )
        else:
            box.clear()
            box.send_keys(str(value))
            page.driver.execute_script(
                "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))", box
            )
