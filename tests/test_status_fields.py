"""The whitelisted customer_fields on the status: labelled, translated where the catalogs say, and nothing else.

The fields are copied into the customer read model with each step (``customer_status.fields``), so
``GET /api/status/{code}`` and ``/track/{code}`` show them without loading a workflow.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import status
from engine.bpmn import SourceFile
from engine.models import CustomerStatus
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from tests.conftest import source
from tests.test_status import SENSITIVE

FORBIDDEN = ("secret_note", "troublemaker", "internal_margin", "4711", "divisor", "Divisor")

KINDS = SourceFile(
    "field_kinds.bpmn",
    b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://carecenter.example/test">
  <bpmn:process id="field_kinds" name="Field kinds" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="customer_stages" value="received, done" />
        <spiffworkflow:property name="customer_fields"
          value="note, count, price, shipped, items, options, missing" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="fill" name="Fill">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>note = "n" * 600
count = 3
price = 19.5
shipped = False
items = [1, 2]
options = {"a": 1}
secret = "not whitelisted"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="wait" name="Wait">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="customer_stage" value="done" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""",
)


@pytest.fixture
def tracking(care):
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE, divisor=2)), "portal")
    return view


def test_the_api_shows_the_whitelisted_fields_labelled_and_nothing_else(care, anonymous, tracking):
    answer = anonymous.get(f"/api/status/{tracking['tracking_code']}")
    assert answer.status_code == 200
    assert answer.json["fields"] == [
        {"name": "customer_name", "label": "Customer name", "value": "Alice Example"},
        {"name": "product", "label": "Product", "value": "Router X1"},
    ]
    text = json.dumps(answer.json)
    assert not [word for word in FORBIDDEN if word in text]
    with care.db.read() as session:
        row = session.scalar(select(CustomerStatus))
    assert row.fields == {"customer_name": "Alice Example", "product": "Router X1"}  # only these are stored


def test_the_tracking_page_shows_them_too(anonymous, tracking):
    page = anonymous.get(f"/track/{tracking['tracking_code']}").text
    assert '<dl class="fields" id="fields">' in page
    assert "<dt>Customer name</dt><dd>Alice Example</dd>" in page and "<dt>Product</dt><dd>Router X1</dd>" in page
    assert not [word for word in FORBIDDEN if word in page]


def test_the_fields_follow_the_instance(care, anonymous, tracking):
    [task] = care.tasks.list(TaskFilter(instance_id=tracking["id"]), 10, None).items
    care.tasks.complete(task["id"], {"product": "Router X2", "secret_note": "still secret"}, "sam")
    fields = anonymous.get(f"/api/status/{tracking['tracking_code']}").json["fields"]
    assert [f["value"] for f in fields] == ["Alice Example", "Router X2"]
    assert "still secret" not in anonymous.get(f"/track/{tracking['tracking_code']}").text


def test_labels_are_translated_where_the_process_catalogs_have_them(care, anonymous):
    german = SourceFile(
        "customer_tracking.de.po",
        b'msgid "Product"\nmsgstr "Produkt"\n\nmsgid "customer_name"\nmsgstr "Ihr Name"\n',
    )
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json"), german], "t", "t")
    view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE)), "portal")
    code = view["tracking_code"]
    labels = [f["label"] for f in anonymous.get(f"/api/status/{code}?lang=de").json["fields"]]
    assert labels == ["Ihr Name", "Produkt"]  # by the readable label, or by the variable's name
    czech = [f["label"] for f in anonymous.get(f"/api/status/{code}?lang=cs").json["fields"]]
    assert czech == ["Customer name", "Product"]  # no Czech catalog: the readable name
    assert "<dt>Produkt</dt>" in anonymous.get(f"/track/{code}?lang=de").text


def test_only_text_numbers_yes_no_and_dates_are_shown_and_long_text_is_cut(care, anonymous):
    care.repository.deploy([KINDS], "t", "t")
    view, _ = care.runtime.start(StartRequest("field_kinds", {}), "portal")
    fields = anonymous.get(f"/api/status/{view['tracking_code']}").json["fields"]
    assert [(f["name"], f["label"]) for f in fields] == [
        ("note", "Note"),
        ("count", "Count"),
        ("price", "Price"),
        ("shipped", "Shipped"),
    ]
    values = {f["name"]: f["value"] for f in fields}
    assert values["note"] == "n" * status.MAX_FIELD_CHARS and values["count"] == 3 and values["price"] == 19.5
    assert values["shipped"] is False
    page = anonymous.get(f"/track/{view['tracking_code']}?lang=de").text
    assert "<dt>Shipped</dt><dd>Nein</dd>" in page and "not whitelisted" not in page and "[1, 2]" not in page


def test_a_process_without_customer_fields_shows_none(care, client, anonymous):
    care.repository.deploy([source("hello_care.bpmn")], "t", "t")
    view, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer", "internal": "x"}), "portal")
    shown = anonymous.get(f"/api/status/{view['tracking_code']}").json["fields"]
    assert shown == [{"name": "subject", "label": "Subject", "value": "Printer"}]  # hello_care whitelists subject
    assert 'id="fields"' in anonymous.get(f"/track/{view['tracking_code']}").text
