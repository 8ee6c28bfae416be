"""Shared parts of the browser tests: Debian's Chromium through Playwright, screenshots, axe-core and the 390 px check.

A test module that imports it skips outside CI when Chromium is missing, and fails in CI (``.ci/run``
installs it). The ``browser_page`` fixture (in ``conftest.py``) opens a fresh page for each test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = Path(os.environ.get("CARECENTER_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"
WIDTHS = (390, 1280)
SERIOUS = ("serious", "critical")

if not CHROMIUM.exists():
    if IN_CI:
        pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing", pytrace=False)
    pytest.skip(f"Chromium not installed at {CHROMIUM}", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
Axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe


def launch(playwright):
    """Debian's Chromium with the flags a container needs."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    )


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def check_page(page, name: str) -> None:
    """At 390 px and 1280 px: a screenshot in ``test-artifacts/``, no horizontal scrolling, no serious axe finding."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        results = Axe().run(page)
        serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
        assert serious == [], f"{name} at {width} px:\n{results.generate_report()}"
    page.set_viewport_size({"width": 1280, "height": 900})
