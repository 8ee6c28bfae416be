"""The bpmn-js diagrams (the modeler's, the compare page's two) are fitted to their boxes again when the window
changes size or the phone turns, until the person zooms or scrolls them (api/static/modeler/keep_fitted.js)."""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from tests.browser import ARTIFACTS, PASSWORD, sign_in
from tests.conftest import make_engine
from tests.live_server import live_server
from tests.test_browser_modeler_compare import version_2

SHOTS = ARTIFACTS / "diagrams"
QUIET = 600  # ms: longer than keep_fitted.js waits after the last change of size
SIZES = (("phone", 390, 844), ("phone-turned", 844, 390), ("desktop", 1280, 900))
EDIT = "/processes/inquiry_intake/edit"  # a wide diagram
COMPARE = "/processes/hello_care/compare?from=1&to=2"
# a page's bpmn-js viewers, by their path from window
MODELER = ["carecenterModeler"]
AFTER, BEFORE = ["carecenterCompare", "after"], ["carecenterCompare", "before"]
VIEWBOX = "(path) => path.reduce((holder, name) => holder[name], window).get('canvas').viewbox()"


def view(page, viewer: list[str]) -> list[float]:
    """Where a viewer looks: the viewbox's corner and scale."""
    return page.evaluate(f"(path) => {{ const v = ({VIEWBOX})(path); return [v.x, v.y, v.scale]; }}", viewer)


def opened_at(page, path: str, width: int, height: int, viewer: list[str]) -> list[float]:
    """The view a page shows when it is opened at this size: the diagram fitted to its box."""
    fresh = page.context.new_page()
    fresh.set_viewport_size({"width": width, "height": height})
    fresh.goto(page.url.split("/processes")[0] + path)
    fresh.wait_for_selector("body[data-modeler-ready=yes], body[data-compare-ready=yes]")
    fitted = view(fresh, viewer)
    fresh.close()
    return fitted


def shows(page, viewer: list[str], expected: list[float]) -> None:
    """Wait until the viewer shows ``expected`` (to a unit and a thousandth of the scale)."""
    page.wait_for_function(
        f"""([viewer, expected]) => {{
            const v = ({VIEWBOX})(viewer);
            return Math.abs(v.x - expected[0]) < 1 && Math.abs(v.y - expected[1]) < 1
              && Math.abs(v.scale - expected[2]) < 0.001;
        }}""",
        arg=[viewer, expected],
        timeout=5000,
    )


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    shipped = [p for p in sorted((PROJECT_ROOT / "processes").iterdir()) if p.suffix in (".bpmn", ".dmn")]
    forms = sorted((PROJECT_ROOT / "forms").glob("*.json"))
    care.repository.deploy([SourceFile(p.name, p.read_bytes()) for p in shipped + forms], "shipped", "test")
    care.repository.deploy([SourceFile("hello_care.bpmn", version_2().encode())], "v2", "test")
    with live_server(care) as base:
        yield base
    care.close()


def test_the_modelers_diagram_is_fitted_again_when_the_window_changes_size(server, browser_page):
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, server, "dana")
    page.goto(server + EDIT)
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.locator(".modeler-workspace").screenshot(path=str(SHOTS / "modeler-1280.png"))
    for name, width, height in SIZES:
        fitted = opened_at(page, EDIT, width, height, MODELER)
        page.set_viewport_size({"width": width, "height": height})
        shows(page, MODELER, fitted)
        page.locator(".modeler-workspace").screenshot(path=str(SHOTS / f"modeler-resized-{name}.png"))


def test_a_diagram_the_person_has_scrolled_stays_where_they_put_it(server, browser_page):
    page = browser_page
    sign_in(page, server, "dana")
    page.goto(server + EDIT)
    page.wait_for_selector("body[data-modeler-ready=yes]")
    fitted = view(page, MODELER)
    canvas = page.locator("#modeler-canvas").bounding_box()
    page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    page.mouse.wheel(120, 80)  # scrolls the diagram
    page.wait_for_timeout(100)
    scrolled = view(page, MODELER)
    assert scrolled != fitted
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(QUIET)
    assert view(page, MODELER) == scrolled


def test_each_compared_diagram_is_fitted_again_unless_it_was_zoomed(server, browser_page):
    page = browser_page
    sign_in(page, server, "dana")
    page.goto(server + COMPARE)
    page.wait_for_selector("body[data-compare-ready=yes]")
    fitted = view(page, BEFORE)
    before = page.locator("#compare-before").bounding_box()
    page.mouse.move(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)  # zooms the older version's diagram in
    page.keyboard.up("Control")
    page.wait_for_timeout(100)
    zoomed = view(page, BEFORE)
    assert zoomed[2] > fitted[2]
    page.set_viewport_size({"width": 390, "height": 844})
    shows(page, AFTER, opened_at(page, COMPARE, 390, 844, AFTER))
    page.wait_for_timeout(QUIET)
    assert view(page, BEFORE) == zoomed
