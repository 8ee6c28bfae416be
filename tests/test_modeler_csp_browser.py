"""The modeler pages keep the site's Content-Security-Policy, and look as their libraries meant them to.

The policy allows no inline styles (``style-src 'self'``). bpmn-js-properties-panel built its two
containers from HTML with style attributes, refused on every load of the modeler; the bundle is now
built without them (api/modeler/build.mjs) and their rules ship in modeler.css.

The decision editor (dmn-js) writes only the bpmn.io watermark with style attributes. Its license
forbids changing the watermark's code, so the browser still refuses those attributes; dmn.css gives the
watermark and the notice it opens the same rules, so they show where and as dmn-js means them to.
"""

from __future__ import annotations

import pytest

from tests.browser import PASSWORD, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server

# every refusal, also those the console does not show: the directive and what was refused
WATCH = """
window.cspRefusals = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.cspRefusals.push(event.violatedDirective + ' ' + event.blockedURI + ' ' + (event.sample || ''));
});
"""


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    with live_server(care) as base:
        yield base
    care.close()


@pytest.mark.parametrize("path", ["/processes/hello_care/edit", "/processes/new"])
def test_the_modeler_loads_and_edits_without_a_csp_refusal(server, browser_page, path):
    page = browser_page
    sign_in(page, server, "dana")
    page.add_init_script(WATCH)
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(server + path)
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.evaluate(
        """() => {  // the panel of a shape, then of the process again
            const modeler = window.carecenterModeler;
            const shape = modeler.get('elementRegistry').filter((element) => element.type !== 'label').pop();
            modeler.get('selection').select(shape);
            modeler.get('selection').select(null);
        }"""
    )
    page.wait_for_timeout(300)  # a refusal is reported asynchronously
    refused = [line for line in console if "Content Security Policy" in line]
    assert refused == [] and page.evaluate("window.cspRefusals") == []
    # what the refused attribute meant to do is done by the stylesheet: the panel's content fills its column
    heights = page.evaluate(
        """() => [document.querySelector('#modeler-panel .bio-properties-panel-container').offsetHeight,
                  document.getElementById('modeler-panel').clientHeight]"""
    )
    assert heights[0] == heights[1]


# The style attributes of the bpmn.io watermark (dmn-js-shared/lib/util/PoweredByUtil.js), the only ones the
# decision editor's bundle writes: the browser refuses them, and dmn.css gives the watermark their rules instead.
WATERMARK = {
    "position: absolute; bottom: 15px; right: 15px; z-index: 100;",  # the link
    "vertical-align:middle",  # its logo
}
REFUSED_STYLES = """() => [...document.querySelectorAll('[style]')]
    .filter((element) => element.getAttribute('style').trim() && !element.style.cssText)
    .map((element) => [element.closest('.bjs-powered-by, .bjs-powered-by-lightbox') !== null,
                       element.getAttribute('style')])"""


@pytest.fixture
def decisions(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    care.repository.deploy([source("classify_inquiry.dmn")], "test", "test")
    with live_server(care) as base:
        yield base
    care.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_decision_editor_shows_the_bpmn_io_watermark_where_dmn_js_puts_it(decisions, browser_page, width):
    """dmn-js writes its watermark with style attributes, which the policy refuses. The watermark's code must not
    be changed (its license says so), so those refusals stay; every other style the editor sets is applied, and
    the watermark sits where its refused attributes would put it: in the view's lower right corner, on top."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, decisions, "dana")
    page.add_init_script(WATCH)
    page.goto(decisions + "/decisions/classify_inquiry.dmn/edit")
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.wait_for_timeout(300)
    assert {directive.split(" ")[0] for directive in page.evaluate("window.cspRefusals")} <= {"style-src-attr"}
    refused = page.evaluate(REFUSED_STYLES)
    assert refused and all(inside and style in WATERMARK for inside, style in refused), refused
    for view in ("Decision requirements", "Which team answers, how urgently"):
        page.get_by_role("button", name=view).click()
        mark = page.locator(".bjs-powered-by:visible")
        placed = mark.evaluate(
            """(link) => {
                link.scrollIntoView({ block: 'center' });
                const box = link.getBoundingClientRect(), parent = link.offsetParent.getBoundingClientRect();
                const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
                return [Math.round(parent.right - box.right), Math.round(parent.bottom - box.bottom),
                        link.contains(top), getComputedStyle(link.querySelector('svg')).verticalAlign];
            }"""
        )
        assert placed == [15, 15, True, "middle"], (view, placed)
    page.locator(".bjs-powered-by:visible").click()  # the notice it opens: over a backdrop that closes it
    notice = page.locator(".bjs-powered-by-lightbox .notice")
    sync_api.expect(notice).to_be_visible()
    assert notice.evaluate("(box) => getComputedStyle(box).position") == "absolute"
    page.mouse.click(5, 890)
    sync_api.expect(page.locator(".bjs-powered-by-lightbox")).to_have_count(0)
