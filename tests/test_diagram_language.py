"""The server-drawn diagrams speak the reader's language: element names through the model's catalogs.

The renderer (:func:`engine.diagram.render_svg`) takes a translating function; the pages that draw a
diagram (a case's, the analytics heat map, the designer's process page) pass the catalogs of the
definition version they draw, in the page's language.  Checked with the shipped processes and their
``.de.po``/``.cs.po`` catalogs.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree, html

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.diagram import CHAR_WIDTH, FONT_SIZE, render_svg
from engine.model_translations import parse_catalog
from engine.runtime import StartRequest
from tests.test_pages import sign_in

PROCESSES = PROJECT_ROOT / "processes"
SVG = {"svg": "http://www.w3.org/2000/svg"}
PASSWORD = "correct horse battery"


def catalog(stem: str, language: str) -> dict[str, str]:
    path = PROCESSES / f"{stem}.{language}.po"
    return parse_catalog(path.name, path.read_bytes()).messages


def through(texts: dict[str, str]):
    """A translating function for the renderer: the catalog's text, else the model's."""
    return lambda text: texts.get(text, text)


def shipped(*names: str) -> list[SourceFile]:
    return [SourceFile(name, (PROCESSES / name).read_bytes()) for name in names]


def diagram_of(page: str) -> etree._Element:
    [svg] = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    return etree.fromstring(svg.encode("utf-8"))


def label(svg: etree._Element, element_id: str) -> str:
    """The name drawn in an element's shape (or beside a flow), its lines joined."""
    lines = svg.xpath(
        "//svg:g[@data-element-id=$id or (@class='bpmn-edge-label' and @data-for=$id)]/svg:text/svg:tspan/text()",
        namespaces=SVG,
        id=element_id,
    )
    return " ".join(lines)


# -- the renderer ------------------------------------------------------------------------------


def test_the_renderer_draws_names_through_the_translation_it_is_given() -> None:
    german = catalog("hello_care", "de")
    data = (PROCESSES / "hello_care.bpmn").read_bytes()
    svg = etree.fromstring(render_svg(data, process_id="hello_care", translate=through(german)))
    assert label(svg, "answer_inquiry") == "Anfrage beantworten"
    [title] = svg.xpath("//svg:g[@data-element-id='answer_inquiry']/svg:title/text()", namespaces=SVG)
    assert title == "User task: Anfrage beantworten"
    assert svg.get("aria-label") == "BPMN diagram of Hallo Kundendienst"
    original = etree.fromstring(render_svg(data, process_id="hello_care"))
    assert label(original, "answer_inquiry") == "Answer the inquiry"
    assert original.get("aria-label") == "BPMN diagram of Hello care"


def test_a_translation_is_looked_up_by_the_models_text_and_wraps_in_the_box() -> None:
    data = (PROCESSES / "hello_care.bpmn").read_bytes()
    asked: list[str] = []

    def long_german(text: str) -> str:
        asked.append(text)
        return "Die Anfrage des Kunden lesen und beantworten" if text == "Answer the inquiry" else text

    svg = etree.fromstring(render_svg(data, process_id="hello_care", translate=long_german))
    assert "Answer the inquiry" in asked and "" not in asked  # unnamed elements are not looked up
    [text] = svg.xpath("//svg:g[@data-element-id='answer_inquiry']/svg:text", namespaces=SVG)
    lines = [span.text for span in text]
    assert len(lines) > 1 and " ".join(lines) == "Die Anfrage des Kunden lesen und beantworten"
    [rect] = svg.xpath("//svg:g[@data-element-id='answer_inquiry']/svg:rect", namespaces=SVG)
    top, bottom = float(rect.get("y")), float(rect.get("y")) + float(rect.get("height"))
    for span in text:  # every line's baseline inside the box, below its top by a line
        assert top + FONT_SIZE <= float(span.get("y")) <= bottom


@pytest.mark.parametrize(
    ("language", "names"),
    [("de", ["Anfrage eingegangen", "Gelöst?", "Ja", "Nein", "Kundenservice", "Kunde", "Antwortfrist verstrichen"]),
     ("cs", ["Dotaz přijat", "Vyřešeno?", "Ano", "Ne", "Zákaznický tým", "Zákazník", "Lhůta pro odpověď uplynula"]),
     ("en", ["Inquiry received", "Solved?", "yes", "no", "care team", "customer", "Answer time passed"])],
)  # fmt: skip
def test_events_gateways_flows_and_lanes_are_drawn_in_the_shipped_catalogs_language(language, names):
    texts = catalog("inquiry_intake", language) if language != "en" else {}
    data = (PROCESSES / "inquiry_intake.bpmn").read_bytes()
    svg = etree.fromstring(render_svg(data, process_id="inquiry_intake", translate=through(texts)))
    ids = ["received", "solved", "f_yes", "f_no", "lane_care_team", "lane_customer", "sla_missed"]
    assert [label(svg, element_id) for element_id in ids] == names


@pytest.mark.parametrize("language", ["en", "de", "cs"])
def test_every_shipped_task_name_is_drawn_whole_in_its_box_in_every_language(language: str) -> None:
    """Translations run longer than the names the boxes were drawn for: a name is set smaller rather than cut."""
    for path in sorted(PROCESSES.glob("*.bpmn")):
        texts = catalog(path.stem, language) if language != "en" else {}
        svg = etree.fromstring(render_svg(path.read_bytes(), process_id=path.stem, translate=through(texts)))
        for group in svg.xpath("//svg:g[contains(@class, 'bpmn-shape')]", namespaces=SVG):
            if not group.get("data-element-type").endswith("Task"):
                continue
            [rect] = group.xpath("svg:rect[@class='bpmn-body']", namespaces=SVG)
            [text] = group.xpath("svg:text", namespaces=SVG)
            lines, size = [span.text for span in text], float(text.get("font-size"))
            name = group.xpath("string(svg:title)", namespaces=SVG).split(": ", 1)[1]  # "User task: <name>"
            assert not lines[-1].endswith("\u2026"), (path.name, language, lines)
            assert size >= 10 and all(len(line) * size * CHAR_WIDTH <= float(rect.get("width")) for line in lines)
            top, bottom = float(rect.get("y")), float(rect.get("y")) + float(rect.get("height"))
            assert all(top + size <= float(span.get("y")) <= bottom for span in text), (path.name, lines)
            assert " ".join(lines) == name, (path.name, language, lines)


# -- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def site(care, anonymous):
    for group in ("support", "team_lead"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support", "team_lead"], password=PASSWORD)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    care.repository.deploy(shipped("hello_care.bpmn", "hello_care.de.po", "hello_care.cs.po"), "catalogs", "t")
    return anonymous


def speaking(care, client, username: str, language: str | None):
    care.identity.set_preferences(care.identity.by_name(username).id, language=language, time_zone=None)
    sign_in(client, username)
    return client


@pytest.mark.parametrize(
    ("language", "shown", "not_shown"),
    [("de", "Anfrage beantworten", "Answer the inquiry"), ("cs", "Zodpovědět dotaz", "Answer the inquiry"),
     ("en", "Answer the inquiry", "Anfrage beantworten")],
)  # fmt: skip
def test_the_case_page_draws_the_task_names_in_the_readers_language(site, care, language, shown, not_shown):
    case, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    page = speaking(care, site, "sam", language).get(f"/instances/{case['id']}").text
    svg = diagram_of(page)
    assert label(svg, "answer_inquiry") == shown
    assert not_shown not in etree.tostring(svg, encoding="unicode")


@pytest.mark.parametrize(
    ("language", "names"),
    [("de", ["Anfrage eingegangen", "Anfrage beantwortet", "Kundendienst", "First-line support"]),
     ("cs", ["Dotaz přijat", "Dotaz zodpovězen", "Zákaznické centrum", "First-line support"]),
     ("en", ["Inquiry received", "Inquiry answered", "Care center", "First-line support"])],
)  # fmt: skip
def test_the_case_page_draws_events_pools_and_a_teams_lane_in_the_readers_words(site, care, language, names):
    """Events and pools through the catalogs; the lane names team ``support``, drawn by the name its admin gave it."""
    care.identity.update_group("support", display_name="First-line support")
    case, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    svg = diagram_of(speaking(care, site, "sam", language).get(f"/instances/{case['id']}").text)
    assert [label(svg, element_id) for element_id in ("start", "end", "hello_care_participant", "lane_support")] == (
        names
    )
    [title] = svg.xpath("//svg:g[@data-element-id='lane_support']/svg:title/text()", namespaces=SVG)
    assert title.endswith(": First-line support")


def test_a_catalog_that_translates_a_lane_wins_over_the_teams_display_name(site, care):
    care.identity.update_group("support", display_name="First-line support")
    catalog = (PROCESSES / "hello_care.de.po").read_text()
    german = catalog.replace('msgid "support"\nmsgstr ""', 'msgid "support"\nmsgstr "Kundendienst-Team"')
    sources = [*shipped("hello_care.bpmn", "hello_care.cs.po"), SourceFile("hello_care.de.po", german.encode())]
    care.repository.deploy(sources, "lane", "t")
    case, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    lane = {}
    for language in ("de", "cs"):
        page = speaking(care, site, "sam", language).get(f"/instances/{case['id']}").text
        lane[language] = label(diagram_of(page), "lane_support")
    assert lane == {"de": "Kundendienst-Team", "cs": "First-line support"}
    care.identity.update_group("support", display_name="")  # a team nobody named: its name
    assert label(diagram_of(site.get(f"/instances/{case['id']}").text), "lane_support") == "support"


@pytest.mark.parametrize(
    ("language", "task", "start", "diagram"),
    [("de", "Benutzeraufgabe: Anfrage beantworten \u2014 aktiv", "Startereignis: Anfrage eingegangen \u2014 erledigt",
      "BPMN-Diagramm von Hallo Kundendienst (1 erledigt; 1 aktiv: Anfrage beantworten)"),
     ("cs", "Uživatelský úkol: Zodpovědět dotaz \u2014 aktivní", "Počáteční událost: Dotaz přijat \u2014 dokončeno",
      "Diagram BPMN procesu Ahoj, zákaznická péče (dokončeno: 1; aktivní (1): Zodpovědět dotaz)"),
     ("en", "User task: Answer the inquiry \u2014 active", "Start event: Inquiry received \u2014 completed",
      "BPMN diagram of Hello care (1 completed; 1 active: Answer the inquiry)")],
    ids=["de", "cs", "en"],
)  # fmt: skip
def test_the_diagrams_own_words_are_in_the_readers_language(site, care, language, task, start, diagram):
    """Tooltips (``<title>``) and the ``aria-label`` name types and states in the page's language."""
    case, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    svg = diagram_of(speaking(care, site, "sam", language).get(f"/instances/{case['id']}").text)
    titles = {
        element_id: svg.xpath("string(//svg:g[@data-element-id=$id]/svg:title)", namespaces=SVG, id=element_id)
        for element_id in ("answer_inquiry", "start")
    }
    assert titles == {"answer_inquiry": task, "start": start}
    assert svg.get("aria-label") == diagram


def test_the_designers_waiting_badge_says_its_count_in_the_readers_language(site, care):
    for _ in range(2):
        care.runtime.start(StartRequest("hello_care", {}), "test")
    page = speaking(care, site, "dana", "de").get("/processes?key=hello_care").text
    [badge] = diagram_of(page).xpath("//svg:g[@class='bpmn-count']/svg:title/text()", namespaces=SVG)
    assert badge == "2 laufende Instanzen warten hier"
    assert "Benutzeraufgabe: Anfrage beantworten \u2014 2 wartend" in etree.tostring(
        diagram_of(page), encoding="unicode"
    )


def test_the_heat_map_and_the_designers_diagram_are_drawn_in_the_readers_language(site, care):
    care.runtime.start(StartRequest("hello_care", {}), "test")
    lead = speaking(care, site, "sam", "de")
    assert label(diagram_of(lead.get("/analytics/processes/hello_care").text), "answer_inquiry") == (
        "Anfrage beantworten"
    )
    designer = speaking(care, site, "dana", "de")
    assert label(diagram_of(designer.get("/processes?key=hello_care").text), "answer_inquiry") == (
        "Anfrage beantworten"
    )


def table_rows(page: str, table_id: str) -> list[list[str]]:
    rows = html.fromstring(page).xpath("//table[@id=$id]/tbody/tr", id=table_id)
    return [[" ".join(cell.text_content().split()) for cell in row] for row in rows]


@pytest.mark.parametrize(
    ("language", "start", "task", "end"),
    [("de", "Anfrage eingegangen", "Anfrage beantworten", "Anfrage beantwortet"),
     ("en", "Inquiry received", "Answer the inquiry", "Inquiry answered")],
    ids=["de", "en"],
)  # fmt: skip
def test_the_analytics_tables_name_elements_and_flows_as_the_heat_map_does(site, care, language, start, task, end):
    """Elements by their translated names; a flow without a name by where it leads from and to, not its id."""
    care.runtime.start(StartRequest("hello_care", {}), "test")
    care.analytics.refresh()
    lead = speaking(care, site, "sam", language)
    page = lead.get("/analytics/processes/hello_care").text
    assert [row[0] for row in table_rows(page, "table-elements")] == [task, start]  # entered once each: by id
    flows = [row[:3] for row in table_rows(page, "table-flows")]
    assert flows == [[f"{task} \u2192 {end}", task, end], [f"{start} \u2192 {task}", start, task]]
    exported = lead.get("/analytics/processes/hello_care/flows.csv").text.splitlines()
    assert exported[2].startswith(f"{start} \u2192 {task},{start},{task},1,1,")


def test_a_case_is_drawn_with_the_catalogs_of_its_own_version(site, care):
    older, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    renamed = (
        (PROCESSES / "hello_care.de.po")
        .read_text()
        .replace('msgstr "Anfrage beantworten"', 'msgstr "Kundenanfrage beantworten"')
    )
    care.repository.deploy(
        [*shipped("hello_care.bpmn"), SourceFile("hello_care.de.po", renamed.encode())], "renamed", "t"
    )
    newer, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    assert (older["version"], newer["version"]) == (1, 2)
    staff = speaking(care, site, "sam", "de")
    assert label(diagram_of(staff.get(f"/instances/{older['id']}").text), "answer_inquiry") == "Anfrage beantworten"
    assert label(diagram_of(staff.get(f"/instances/{newer['id']}").text), "answer_inquiry") == (
        "Kundenanfrage beantworten"
    )
    report = staff.get("/analytics/processes/hello_care?version=1").text
    assert label(diagram_of(report), "answer_inquiry") == "Anfrage beantworten"
