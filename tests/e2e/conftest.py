"""The browser tests' fixtures (defined in tests/e2e/browser.py, with the page helpers)."""

from tests.e2e.browser import (  # noqa: F401  (fixtures)
    artifacts,
    axe_source,
    chromium_paths,
    driver,
    lighthouse_bin,
    page,
)
