"""The shipped process files: they deploy together, and each opens with its diagram in a modeler.

Camunda Modeler and bpmn.io draw only what the diagram interchange (BPMNDI) places: every flow
node, boundary event and lane needs a shape, every sequence flow an edge.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from tests.conftest import upload

PROCESSES = PROJECT_ROOT / "processes"
BPMN_FILES = sorted(PROCESSES.glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
NOT_DRAWN = {"laneSet", "sequenceFlow", "extensionElements", "documentation", "ioSpecification", "property"}


@pytest.mark.parametrize("path", BPMN_FILES, ids=[p.stem for p in BPMN_FILES])
def test_every_element_has_its_place_in_the_diagram(path: Path):
    tree = etree.parse(str(path))
    drawn = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))
    elements = [
        node.get("id")
        for process in tree.xpath("//bpmn:process", namespaces=NS)
        for node in process
        if isinstance(node.tag, str) and etree.QName(node).localname not in NOT_DRAWN
    ]
    flows = tree.xpath("//bpmn:sequenceFlow/@id", namespaces=NS)
    lanes = tree.xpath("//bpmn:lane/@id", namespaces=NS)
    missing = [element for element in [*elements, *flows, *lanes] if element not in drawn]
    assert elements and not missing, f"{path.name}: not in the diagram: {missing}"


def test_the_process_folder_deploys_as_one_deployment(care):
    sources = [SourceFile(p.name, p.read_bytes()) for p in sorted(PROCESSES.iterdir()) if p.suffix in (".bpmn", ".dmn")]
    result = care.repository.deploy(sources, "shipped", "test")
    assert {outcome.key for outcome in result.definitions} >= {p.stem for p in BPMN_FILES}


def test_each_care_process_deploys_runs_and_cancels_over_the_http_api(care, client):
    """Deploy the folder, start each process the way it is started in production, then cancel what runs."""
    from process_library.store import CatalogItem, Customer, License, System

    names = sorted(p.name for p in PROCESSES.iterdir() if p.suffix in (".bpmn", ".dmn"))
    assert client.post("/api/deployments", data=upload(*names)).status_code == 201
    now = care.clock.now()
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Ada", email="ada@example.com", tier="premium", language="en"))
        session.flush()
        session.add(System(id="S-1", customer_id="C-1", product="carestation", version="4.1", hostname="cs1"))
        session.add(
            License(
                id="L-1",
                customer_id="C-1",
                product="carestation",
                level="pro",
                valid_until=now + timedelta(days=20),
                status="active",
            )
        )
        session.add(
            CatalogItem(
                id="P-1",
                name="Till",
                kind="license",
                product="till",
                level="pro",
                price=9000,
                currency="EUR",
                term_months=12,
            )
        )
    customer = {"id": "C-1", "name": "Ada", "email": "ada@example.com"}
    inquiry = {"channel": "web", "customer": customer, "subject": "Help", "body": "The scanner is down."}
    assert client.post("/api/inquiries", json=inquiry).status_code == 201
    release = {"name": "software_release_published", "payload": {"product": "carestation", "version": "4.2"}}
    assert client.post("/api/signals", json=release).get_json()["receivers"] == 1
    for key, variables in (("hello_care", {}), ("license_sweep", {})):
        response = client.post(f"/api/process-definitions/{key}/instances", json={"variables": variables})
        assert response.status_code == 201, response.get_json()
    self_service = (  # started by process_library.self_service from the portal; here as an API client would
        ("account_change", {"customer_id": "C-1", "changes": {"email": "ada@new.example"}, "channel": "web"}),
        ("product_order", {"customer_id": "C-1", "item_id": "P-1", "quantity": 1, "channel": "web"}),
    )
    for key, variables in self_service:
        body = {"variables": variables, "customer_id": "C-1"}
        assert client.post(f"/api/process-definitions/{key}/instances", json=body).status_code == 201
    escalation = {"variables": {"customer_id": "C-1", "priority": "high", "subject": "Help"}}
    assert client.post("/api/process-definitions/escalation/instances", json=escalation).status_code == 201
    care.jobs.run_due("test")

    instances = client.get("/api/instances?limit=200").get_json()["items"]
    assert {i["process_key"] for i in instances} == {p.stem for p in BPMN_FILES}  # each one runs
    for instance in instances:
        if instance["status"] == "active":
            cancelled = client.post(f"/api/instances/{instance['id']}/cancel")
            assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    after = client.get("/api/instances?limit=200").get_json()["items"]
    assert {i["status"] for i in after} <= {"cancelled", "completed"}
    assert client.get("/api/tasks?limit=200").get_json()["items"] == []
