"""The modeler page keeps the site's Content-Security-Policy without a refusal in the browser's console.

The policy allows no inline styles (``style-src 'self'``). bpmn-js-properties-panel built its two
containers from HTML with style attributes, refused on every load of the modeler; the bundle is now
built without them (api/modeler/build.mjs) and their rules ship in modeler.css.
"""

from __future__ import annotations

import pytest

from tests.browser import PASSWORD, sign_in
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
