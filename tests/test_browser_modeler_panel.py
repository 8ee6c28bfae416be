"""The rest of the properties panel in a real browser: service operations, checked values, lanes, customer texts.

Every field is used through the panel as a designer uses it; what it wrote is read from the exported
XML, in the file's own dialect (spiffworkflow: for new and Spiff files, camunda: for Camunda files).
"""

from __future__ import annotations

import pytest
from lxml import etree

from tests.browser import check_page, sign_in, sync_api
from tests.conftest import DATA, make_engine
from tests.live_server import live_server
from tests.test_browser_modeler import CAMUNDA_NS, SPIFF_NS, exported, open_carecenter_group, open_file, ready

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "spiffworkflow": SPIFF_NS, "camunda": CAMUNDA_NS}


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support", "First line")
    care.identity.add_group("billing", "Invoices")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    with live_server(care) as base:
        yield base, care
    care.close()


def build(page) -> None:
    """start → user task → script task → gateway → service task (flow with a condition) → timer → end."""
    page.evaluate(
        """() => {
            const modeler = window.carecenterModeler;
            const modeling = modeler.get('modeling');
            const registry = modeler.get('elementRegistry');
            const start = registry.filter(e => e.type === 'bpmn:StartEvent')[0];
            const user = modeling.appendShape(start, { type: 'bpmn:UserTask' });
            modeling.updateProperties(user, { id: 'review', name: 'Review' });
            const script = modeling.appendShape(user, { type: 'bpmn:ScriptTask' });
            modeling.updateProperties(script, { id: 'compute', name: 'Compute' });
            const gateway = modeling.appendShape(script, { type: 'bpmn:ExclusiveGateway' });
            modeling.updateProperties(gateway, { id: 'decide' });
            const service = modeling.appendShape(gateway, { type: 'bpmn:ServiceTask' });
            modeling.updateProperties(service, { id: 'tell', name: 'Tell the customer' });
            const flow = gateway.outgoing[0];
            modeling.updateProperties(flow, { id: 'to_tell' });
            const timer = modeling.appendShape(service, {
                type: 'bpmn:IntermediateCatchEvent', eventDefinitionType: 'bpmn:TimerEventDefinition' });
            modeling.updateProperties(timer, { id: 'wait' });
            modeling.appendShape(timer, { type: 'bpmn:EndEvent' });
        }"""
    )


def select(page, element_id: str) -> None:
    page.evaluate(
        "id => { const m = window.carecenterModeler; m.get('selection').select(m.get('elementRegistry').get(id)); }",
        element_id,
    )
    page.locator(".bio-properties-panel-header").wait_for()


def verdict(page, entry: str, state: str, saying: str) -> str:
    """The verdict under a field once it is ``state`` and says ``saying`` (the answer for the value just typed)."""
    locator = page.locator(f'.cc-verdict[data-entry-id="{entry}"][data-verdict="{state}"]', has_text=saying)
    locator.wait_for()
    return locator.inner_text()


def node(xml: str, element_id: str):
    return etree.fromstring(xml.encode()).xpath("//*[@id=$id]", id=element_id)[0]


def test_the_panel_edits_operations_checked_values_and_customer_texts(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes/new")
    ready(page)
    build(page)
    panel = page.get_by_role("region", name="Properties")

    # a service task: the operation from the registry, a field per parameter
    select(page, "tell")
    open_carecenter_group(page)
    panel.get_by_label("Operation").select_option("lookup_customer")
    sync_api.expect(panel.get_by_text("Find a customer: tier, language, products").first).to_be_visible()
    panel.get_by_label("customer_id (required)").fill("customer_id")
    panel.get_by_label("Result variable").fill("found")
    page.wait_for_timeout(600)  # the panel's debounce
    tell = node(exported(page), "tell")
    operator = tell.xpath("./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", namespaces=NS)[0]
    assert (operator.get("id"), operator.get("resultVariable")) == ("lookup_customer", "found")
    parameters = operator.xpath("./spiffworkflow:parameters/spiffworkflow:parameter", namespaces=NS)
    assert [(p.get("id"), p.get("value")) for p in parameters] == [("customer_id", "customer_id")]

    # a script: refused by the sandbox while typed, then fine
    select(page, "compute")
    panel.get_by_label("Script", exact=True).fill("import os")
    assert verdict(page, "cc-script-check", "problem", 'import of "os" is not allowed')
    panel.get_by_label("Script", exact=True).fill("total = 2 * 21")
    assert verdict(page, "cc-script-check", "ok", "Works.") == "✓ Works."

    # a condition on the gateway's flow
    select(page, "to_tell")
    panel.get_by_label("Condition").fill("total >")
    assert verdict(page, "cc-condition-check", "problem", "SyntaxError")
    panel.get_by_label("Condition").fill("${total > 40}")
    assert verdict(page, "cc-condition-check", "ok", "Works.") == "✓ Works."

    # a timer typed in bpmn-js's Timer group, checked in ours
    select(page, "wait")
    page.locator(".bio-properties-panel-group-header", has_text="Timer").click()
    panel.get_by_label("Type").select_option("timeDuration")
    panel.get_by_label("Value").fill("PT1X")
    assert verdict(page, "cc-timer-check", "problem", "would be read as a variable's name")
    panel.get_by_label("Value").fill("PT1H")
    assert verdict(page, "cc-timer-check", "ok", "Works.") == "✓ Works."

    # the process's stages and fields, then a task's due date, stage labels and message
    page.evaluate(
        "() => { const m = window.carecenterModeler; m.get('selection').select(m.get('canvas').getRootElement()); }"
    )
    panel.get_by_label("Customer stages").fill("received, reviewing")
    panel.get_by_label("Fields the customer sees").fill("subject")
    panel.get_by_label("Variable naming the customer").fill(" customer_id ")
    page.wait_for_timeout(600)
    select(page, "review")
    panel.get_by_label("Due").fill("P1Q")
    assert verdict(page, "cc-due-check", "problem", "not ISO 8601")
    panel.get_by_label("Due").fill("P2D")
    assert verdict(page, "cc-due-check", "ok", "Works.") == "✓ Works."
    panel.get_by_label("Customer stage", exact=True).select_option("reviewing")
    panel.get_by_label("Stage label in German").fill("In Prüfung")
    panel.get_by_label("Customer message").fill("We review {{ subject }")
    assert verdict(page, "cc-customer-message-check", "problem", "template syntax error")
    panel.get_by_label("Customer message").fill("We review “{{ subject }}”.")
    assert verdict(page, "cc-customer-message-check", "ok", "Works.") == "✓ Works."
    check_page(page, "modeler-panel")

    page.wait_for_timeout(600)
    xml = exported(page)
    review = node(xml, "review")
    properties = {p.get("name"): p.get("value") for p in review.xpath(".//spiffworkflow:property", namespaces=NS)}
    assert properties == {
        "due": "P2D",
        "customer_stage": "reviewing",
        "customer_stage_de": "In Prüfung",
        "customer_message": "We review “{{ subject }}”.",
    }
    process = etree.fromstring(xml.encode()).xpath("//bpmn:process", namespaces=NS)[0]
    process_properties = process.xpath("./bpmn:extensionElements//spiffworkflow:property", namespaces=NS)
    assert {p.get("name"): p.get("value") for p in process_properties} == {
        "customer_stages": "received, reviewing",
        "customer_fields": "subject",
        "customer_variable": "customer_id",
    }
    assert node(xml, "compute").xpath("string(./bpmn:script)", namespaces=NS) == "total = 2 * 21"
    assert node(xml, "to_tell").xpath("string(./bpmn:conditionExpression)", namespaces=NS) == "${total > 40}"
    assert node(xml, "wait").xpath("string(.//bpmn:timeDuration)", namespaces=NS) == "PT1H"
    # the customer view follows: the stage's German label from its property, the message with its field
    row = page.locator('tr.customer-view-stage[data-stage="reviewing"]')
    row.locator("td[lang=de]", has_text="In Prüfung").wait_for()
    assert row.locator(".customer-view-message").inner_text() == "We review “[Subject]”."
    assert CAMUNDA_NS not in xml


def test_camunda_files_get_external_tasks_input_parameters_and_lane_teams(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    open_file(page, base, DATA / "camunda_credit.bpmn")
    ready(page)
    panel = page.get_by_role("region", name="Properties")
    select(page, "verify_identity")
    open_carecenter_group(page)
    operation = panel.get_by_label("Operation")
    assert operation.input_value() == "identity_check"  # a topic for outside workers, kept
    sync_api.expect(panel.get_by_text("No operation of that name is registered")).to_be_visible()
    operation.select_option("lookup_customer")
    panel.get_by_label("customer_id (required)").fill("${customer}")
    page.wait_for_timeout(600)
    task = node(exported(page), "verify_identity")
    assert task.get(f"{{{CAMUNDA_NS}}}type") == "external"
    assert task.get(f"{{{CAMUNDA_NS}}}topic") == "lookup_customer"
    parameters = task.xpath(".//camunda:inputOutput/camunda:inputParameter", namespaces=NS)
    assert [(p.get("name"), p.text) for p in parameters][-1] == ("customer_id", "${customer}")

    lanes = page.evaluate(
        "() => window.carecenterModeler.get('elementRegistry').filter(e => e.type === 'bpmn:Lane').map(e => e.id)"
    )
    if lanes:
        select(page, lanes[0])
        panel.get_by_label("Team of the lane").select_option("billing")
        assert node(exported(page), lanes[0]).get("name") == "billing"
    assert SPIFF_NS not in exported(page)
