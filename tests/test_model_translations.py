"""The words of the models in German and Czech: catalogs shipped beside the BPMN file, deployed with it.

Deploying with catalogs translates the process title, stage labels, the customer's task and its
form on the tracking pages; a missing translation warns and shows the model's text; a broken
catalog refuses the deployment naming file and line; each version keeps its own translations;
``carecenter translations extract`` writes the template.  On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from click.testing import CliRunner

from api.app import create_app
from api.commands import main
from engine import model_translations
from engine.bpmn import ParsedFiles, SourceFile
from engine.config import PROJECT_ROOT
from engine.models import DeploymentResource
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.store import Customer
from tests.conftest import make_engine
from tests.test_pages import sign_in
from tests.test_portal_session import sign_in_to_portal

PROCESSES = PROJECT_ROOT / "processes"

REPAIR = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://carecenter.example/test">
  <bpmn:process id="repair" name="Repair request" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="customer_stages" value="Received, Repairing, Done" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_support" name="support"><bpmn:flowNodeRef>check</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_customer" name="customer"><bpmn:flowNodeRef>choose</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Request received">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="customer_stage" value="Received" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="check" name="Check the device">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="customer_stage" value="Repairing" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="choose" name="Choose the delivery">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="repair_delivery.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Repaired">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="customer_stage" value="Done" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="choose" />
    <bpmn:sequenceFlow id="f3" sourceRef="choose" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FORM = b"""{"title": "Delivery", "type": "object", "required": ["delivery"], "properties": {
  "delivery": {"type": "string", "title": "How we return it", "enum": ["pickup", "courier"]},
  "note": {"type": "string", "title": "Note for the workshop"}}}"""
FORM_UI = b"""{"delivery": {"ui:widget": "radio", "ui:enumNames": ["Pick it up", "By courier"]},
  "note": {"ui:help": "Optional."}}"""
GERMAN = {
    "Repair request": "Reparaturauftrag",
    "Request received": "Auftrag eingegangen",
    "Check the device": "Gerät prüfen",
    "Choose the delivery": "Rückgabe wählen",
    "Repaired": "Repariert",
    "Received": "Eingegangen",
    "Repairing": "In Reparatur",
    "Done": "Abgeschlossen",
    "Delivery": "Rückgabe",
    "How we return it": "Wie wir es zurückgeben",
    "Pick it up": "Selbst abholen",
    "By courier": "Per Kurier",
    "Note for the workshop": "Notiz für die Werkstatt",
    "Optional.": "Freiwillig.",
}
CZECH = {
    "Repair request": "Požadavek na opravu",
    "Request received": "Požadavek přijat",
    "Check the device": "Zkontrolovat zařízení",
    "Choose the delivery": "Zvolte vrácení",
    "Repaired": "Opraveno",
    "Received": "Přijato",
    "Repairing": "V opravě",
    "Done": "Dokončeno",
    "Delivery": "Vrácení",
    "How we return it": "Jak vám ho vrátíme",
    "Pick it up": "Vyzvednu si",
    "By courier": "Kurýrem",
    "Note for the workshop": "Poznámka pro dílnu",
    "Optional.": "Nepovinné.",
}


def po(messages: dict[str, str], language: str = "de") -> bytes:
    lines = ['msgid ""', 'msgstr ""', f'"Language: {language}\\n"', '"Content-Type: text/plain; charset=UTF-8\\n"']
    for msgid, msgstr in messages.items():
        lines += ["", f'msgid "{msgid}"', f'msgstr "{msgstr}"']
    return ("\n".join(lines) + "\n").encode()


def files(**extra: bytes) -> dict:
    """Multipart data: the repair process, its form, and ``extra`` files (``repair_de_po`` -> ``repair.de.po``)."""
    found = {"repair.bpmn": REPAIR.encode(), "repair_delivery.json": FORM, "repair_delivery.ui.json": FORM_UI}
    found |= {name.replace("_po", ".po").replace("_", "."): content for name, content in extra.items()}
    return {"files": [(io.BytesIO(content), name) for name, content in found.items()]}


@pytest.fixture
def site(any_database_url):
    """The engine and an admin API client on each backend; tokens of the tests are admin tokens."""
    care = make_engine(any_database_url)
    app = create_app(care)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('test-admin')[1]}"
    yield care, client, app
    care.close()


def deploy(client, data: dict, status: int = 201) -> dict:
    response = client.post("/api/deployments", data=data)
    assert response.status_code == status, response.json
    return response.json


def at_customer_task(care) -> str:
    """Start a repair, let staff check the device; the customer's task is open. Returns the tracking code."""
    view, _ = care.runtime.start(StartRequest("repair", {}), "portal")
    [task] = care.tasks.list(TaskFilter(instance_id=view["id"]), 10, None).items
    care.tasks.complete(task["id"], {}, "sam")
    return view["tracking_code"]


def test_catalogs_translate_title_stages_task_and_form_on_the_status_page(site):
    care, client, app = site
    answer = deploy(client, files(repair_de_po=po(GERMAN), repair_cs_po=po(CZECH, "cs")))
    assert answer["warnings"] == []
    code = at_customer_task(care)
    anonymous = app.test_client()

    german = anonymous.get(f"/track/{code}?lang=de").text
    for text in ("Reparaturauftrag", "Eingegangen", "In Reparatur", "Abgeschlossen", "Rückgabe wählen"):
        assert text in german, text
    for text in ("Wie wir es zurückgeben", "Selbst abholen", "Per Kurier", "Notiz für die Werkstatt", "Freiwillig."):
        assert text in german, text
    assert "Repair request" not in german and "Choose the delivery" not in german and "By courier" not in german
    assert 'value="courier"' in german  # the values sent stay the model's

    czech = anonymous.get(f"/track/{code}", headers={"Accept-Language": "cs"}).text
    assert all(text in czech for text in ("Požadavek na opravu", "V opravě", "Zvolte vrácení", "Kurýrem"))
    english = anonymous.get(f"/track/{code}?lang=en").text
    assert all(text in english for text in ("Repair request", "Repairing", "Choose the delivery", "By courier"))

    status = anonymous.get(f"/api/status/{code}?lang=de").json  # the page shows what the API gives
    assert status["title"] == "Reparaturauftrag" and status["tasks"][0]["name"] == "Rückgabe wählen"
    assert [s["label"] for s in status["stages"]] == ["Eingegangen", "In Reparatur", "Abgeschlossen"]
    assert [h["label"] for h in status["history"]] == ["In Reparatur"]

    # the customer answers in German; the model's values arrive
    token = re.search(r'name="csrf_token" value="([^"]+)"', german)[1]
    task_id = int(re.search(rf'action="/track/{code}/tasks/(\d+)', german)[1])
    sent = anonymous.post(f"/track/{code}/tasks/{task_id}?lang=de", data={"delivery": "courier", "csrf_token": token})
    assert sent.status_code == 302
    done = anonymous.get(f"/api/status/{code}?lang=cs").json
    assert done["status"] == "completed" and done["stages"][-1]["label"] == "Dokončeno"


def test_a_missing_translation_warns_in_few_lines_and_shows_the_models_text(site):
    care, client, app = site
    partial = {k: v for k, v in GERMAN.items() if k not in ("Repairing", "Pick it up", "Optional.", "Delivery")}
    answer = deploy(client, files(repair_de_po=po(partial)))
    assert answer["warnings"] == [
        {
            "file": "repair.de.po",
            "line": None,
            "element_id": "repair",
            "message": "4 of 14 texts have no German translation and show in English:"
            " “Repairing”, “Delivery”, “Pick it up” and 1 more",
        },
        {
            "file": "repair.bpmn",
            "line": 5,
            "element_id": "repair",
            "message": "no Czech catalog repair.cs.po: its 14 texts show in English",
        },
    ]
    code = at_customer_task(care)
    german = app.test_client().get(f"/track/{code}?lang=de").text
    assert "Reparaturauftrag" in german and "Per Kurier" in german
    assert ">Repairing<" in german and "Pick it up" in german and "Optional." in german  # the model's text
    assert "Choose the delivery" in app.test_client().get(f"/track/{code}?lang=cs").text


def test_a_process_without_catalogs_gets_one_warning_line(site):
    _, client, _ = site
    [warning] = deploy(client, files())["warnings"]
    assert (warning["file"], warning["element_id"]) == ("repair.bpmn", "repair")
    assert warning["message"].startswith("no translations: 14 texts show in English to German and Czech readers")
    assert "repair.de.po and repair.cs.po" in warning["message"]
    assert "carecenter translations extract repair.bpmn" in warning["message"]


def test_unused_entries_are_named_once(site):
    _, client, _ = site
    stale = po(GERMAN | {"Check the old device": "Altes Gerät prüfen", "Gone": "Weg"})
    warnings = deploy(client, files(repair_de_po=stale, repair_cs_po=po(CZECH, "cs")))["warnings"]
    assert warnings == [
        {
            "file": "repair.de.po",
            "line": 48,
            "element_id": None,
            "message": "2 entries translate texts the model does not have: “Check the old device”, “Gone”",
        }
    ]


BROKEN = [
    ("repair.de.po", b'msgid "Done"\nmsgstr "Erledigt\n', 2, "expected a text in double quotes"),
    ("repair.de.po", b'msgid "Done"\nmsgstr "A"\n\nmsgid "Done"\nmsgstr "B"\n', 4, "given twice (first on line 1)"),
    ("repair.de.po", b'msgid "Done"\n\nmsgid "Received"\nmsgstr "B"\n', 1, 'msgid "Done" has no msgstr'),
    ("repair.de.po", b'msgid "Done"\nmsgstr "A"\nmsgtxt "B"\n', 3, "expected msgid, msgstr"),
    ("repair.de.po", b'msgid "Done"\nmsgid_plural "Dones"\nmsgstr[0] "A"\n', 2, "msgid_plural is not used"),
    ("repair.de.po", b'msgid "Done"\nmsgstr "Erledigt \\q"\n', 2, "unknown escape"),
    ("repair.de.po", b'msgid "Done"\nmsgstr "Erledigt"\n"\n', 3, "expected a text in double quotes"),
    ("repair.de.po", b'msgid "Done"\nmsgstr "\xff"\n', 2, "not UTF-8 text"),
    ("repair.de.po", po({"Done": "Hotovo"}, "cs"), 1, "the header says Language: cs, the file name says de"),
    ("repair.fr.po", po({"Done": "Fait"}, "fr"), None, "language 'fr' is not one carecenter shows; use one of"),
    ("repair.po", po({"Done": "Erledigt"}), None, "name a catalog <bpmn file name>.<language>.po"),
    ("other.de.po", po({"Done": "Erledigt"}), None, "no other.bpmn in this deployment"),
]


@pytest.mark.parametrize(("name", "content", "line", "message"), BROKEN, ids=[str(i) for i in range(len(BROKEN))])
def test_a_broken_catalog_refuses_the_deployment_naming_file_and_line(site, name, content, line, message):
    care, client, _ = site
    data = files()
    data["files"].append((io.BytesIO(content), name))
    answer = deploy(client, data, 422)
    [problem] = answer["errors"]
    assert (problem["file"], problem["line"]) == (name, line)
    assert message in problem["message"]
    assert client.get("/api/process-definitions").json["items"] == []  # nothing deployed
    with care.db.read() as session:
        assert session.query(DeploymentResource).count() == 0


def test_each_version_keeps_its_own_translations(site):
    care, client, app = site
    first = deploy(client, files(repair_de_po=po(GERMAN)))
    assert [(d["key"], d["version"]) for d in first["definitions"]] == [("repair", 1)]
    old = at_customer_task(care)
    again = deploy(client, files(repair_de_po=po(GERMAN)), 200)  # the same files: nothing new
    assert again["changed"] is False
    renamed = deploy(client, files(repair_de_po=po(GERMAN | {"Repair request": "Reparatur"})))
    assert [(d["key"], d["version"]) for d in renamed["definitions"]] == [("repair", 2)]  # only the catalog changed
    new = at_customer_task(care)
    stored = client.get("/api/deployments").json["items"][0]["files"]
    assert {"filename": "repair.de.po", "kind": "catalog"} in [{k: f[k] for k in ("filename", "kind")} for f in stored]

    anonymous = app.test_client()
    assert anonymous.get(f"/api/status/{old}?lang=de").json["title"] == "Reparaturauftrag"
    assert anonymous.get(f"/api/status/{new}?lang=de").json["title"] == "Reparatur"
    texts = care.repository.texts
    assert texts.translate("repair", 1, "de", "Repair request") == "Reparaturauftrag"
    assert texts.translate("repair", 2, "de", "Repair request") == "Reparatur"
    assert texts.translate("repair", None, "de", "Repair request") == "Reparatur"  # the latest
    assert texts.translate("repair", 2, "cs", "Repair request") == "Repair request"  # no Czech: the model's text
    assert texts.translate("repair", 9, "de", "Repair request") == "Repair request"  # no such version
    assert texts.translate("nothing", None, "de", "Done") == "Done"


def test_the_designer_uploads_catalogs_and_sees_names_in_the_page_language(site):
    care, client, app = site
    care.identity.add_user("dana", "designer", password="correct horse battery")
    browser = app.test_client()
    csrf = lambda page: re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # noqa: E731
    token = csrf(browser.get("/login").text)
    browser.post("/login", data={"username": "dana", "password": "correct horse battery", "csrf_token": token})
    page = browser.get("/processes", headers={"Accept-Language": "de"}).text
    sent = browser.post("/processes", data={"csrf_token": csrf(page), **files(repair_de_po=po(GERMAN))})
    assert sent.status_code == 302
    listed = browser.get("/processes", headers={"Accept-Language": "de"}).text
    assert "Deployed repair v1." in listed
    assert "Warning: repair.bpmn:5: repair: no Czech catalog repair.cs.po" in listed  # a flash, not a refusal
    assert ">Reparaturauftrag</a>" in listed
    assert ">Repair request</a>" in browser.get("/processes", headers={"Accept-Language": "en"}).text


def test_the_portal_lists_requests_with_translated_titles(site):
    care, client, app = site
    deploy(client, files(repair_de_po=po(GERMAN)))
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice", email="alice@example.com", tier="gold", language="de"))
    care.runtime.start(StartRequest("repair", {}, customer_id="C-1"), "portal")
    customer = app.test_client()
    sign_in_to_portal(customer, care, "alice@example.com")
    page = customer.get("/portal/account?lang=de").text
    assert "Reparaturauftrag</a>" in page and "Repair request" not in page


def test_the_shipped_processes_deploy_with_their_catalogs_without_warnings(site):
    care, client, app = site
    names = sorted(p.name for p in PROCESSES.iterdir() if p.suffix in (".bpmn", ".dmn", ".po"))
    assert {n for n in names if n.endswith(".po")} == {
        f"{p.stem}.{language}.po" for p in PROCESSES.glob("*.bpmn") for language in ("de", "cs")
    }
    data = {"files": [(io.BytesIO((PROCESSES / n).read_bytes()), n) for n in names]}
    assert deploy(client, data)["warnings"] == []
    assert care.repository.texts.translate("inquiry_intake", 1, "de", "In review") == "In Prüfung"
    customer = {"id": "C-1", "name": "Ada", "email": "ada@example.com"}
    inquiry = {"channel": "web", "customer": customer, "subject": "Help", "body": "The scanner is down."}
    code = client.post("/api/inquiries", json=inquiry).json["tracking_code"]
    status = app.test_client().get(f"/api/status/{code}?lang=cs").json
    assert status["title"] == "Dotaz"
    assert [s["label"] for s in status["stages"]] == ["Přijato", "Posuzuje se", "Zodpovězeno", "Uzavřeno"]
    assert [f["label"] for f in status["fields"]] == ["Předmět", "Kanál", "Jméno"]  # the fields the customer sees
    # on the tracking page, the channel by its name in the reader's language (the API keeps the value)
    assert [f["value"] for f in status["fields"]] == ["Help", "web", "Ada"]
    page = app.test_client().get(f"/track/{code}?lang=cs").text
    assert "<dt>Kanál</dt><dd>Webový formulář</dd>" in page
    assert "<dd>Web form</dd>" in app.test_client().get(f"/track/{code}?lang=en").text
    # what happens next, at each stage, in the customer's language
    assert status["message"] == "Váš dotaz „Help“ jsme přijali a předáváme ho týmu, který na něj odpoví."
    care.jobs.run_due("test")  # the customer is looked up: the care team has the inquiry
    status = app.test_client().get(f"/api/status/{code}?lang=de").json
    assert status["message"].startswith("Unser Kundenservice bearbeitet Ihre Anfrage „Help“.")
    english = app.test_client().get(f"/api/status/{code}?lang=en").json
    assert english["message"] == (
        "Our care team is working on your inquiry “Help”. We will send you the answer as soon as it is ready."
    )


def test_extract_writes_a_template_and_a_catalog_keeping_translations(tmp_path, monkeypatch):
    monkeypatch.setenv("CARECENTER_FORMS_DIR", str(PROJECT_ROOT / "forms"))
    runner = CliRunner()
    template = runner.invoke(main, ["translations", "extract", str(PROCESSES / "inquiry_intake.bpmn")])
    assert template.exit_code == 0, template.output
    parsed = model_translations.parse_catalog("inquiry_intake.de.po", template.output.encode())
    assert parsed.messages == {}  # a template translates nothing
    assert {"Inquiry", "Answer the inquiry", "In review", "Minutes spent", "needs follow up"} <= set(parsed.entries)
    assert {"Did our answer solve your problem?", "Yes, my problem is solved"} <= set(parsed.entries)
    assert "#. task answer\n#. form answer_inquiry.json\n#: inquiry_intake.bpmn:109 answer_inquiry.json" in (
        template.output
    )

    (tmp_path / "repair.bpmn").write_text(REPAIR)
    (tmp_path / "repair_delivery.json").write_bytes(FORM)
    (tmp_path / "repair_delivery.ui.json").write_bytes(FORM_UI)
    (tmp_path / "repair.de.po").write_bytes(po({"Repair request": "Reparaturauftrag", "Gone": "Weg"}))
    out = tmp_path / "repair.de.new.po"
    result = runner.invoke(
        main, ["translations", "extract", str(tmp_path / "repair.bpmn"), "--language", "de", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "16 texts, 1 translated already" in result.output
    written = model_translations.parse_catalog("repair.de.po", out.read_bytes())
    assert written.messages == {"Repair request": "Reparaturauftrag"}  # kept; what the model lost is left out
    # every text of the model, in the model's order; the lanes too, which name teams and need no translation
    assert list(written.entries) == ["Repair request", "support", "customer", *list(GERMAN)[1:]]

    (tmp_path / "repair.de.po").write_bytes(b'msgid "Done"\nmsgstr "x\n')
    broken = runner.invoke(main, ["translations", "extract", str(tmp_path / "repair.bpmn"), "--language", "de"])
    assert broken.exit_code == 1 and "repair.de.po:2: expected a text in double quotes" in broken.output


def test_deploy_and_check_from_the_command_line_take_catalogs_from_the_folder(tmp_path, monkeypatch, any_database_url):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", any_database_url)
    (tmp_path / "repair.bpmn").write_text(REPAIR)
    (tmp_path / "repair_delivery.json").write_bytes(FORM)
    (tmp_path / "repair_delivery.ui.json").write_bytes(FORM_UI)
    (tmp_path / "repair.de.po").write_bytes(po(GERMAN))
    (tmp_path / "repair.cs.po").write_bytes(po(CZECH | {"Repairing": ""}, "cs"))
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(tmp_path)])
    assert checked.exit_code == 0
    assert "warning: repair.cs.po: repair: 1 of 14 texts have no Czech translation" in checked.output
    deployed = runner.invoke(main, ["deploy", str(tmp_path)])
    assert deployed.exit_code == 0 and "repair v1: created" in deployed.output
    care = make_engine(any_database_url)
    try:
        assert care.repository.texts.translate("repair", 1, "cs", "Done") == "Dokončeno"
        assert care.repository.texts.translate("repair", 1, "cs", "Repairing") == "Repairing"  # empty: untranslated
    finally:
        care.close()
    (tmp_path / "repair.cs.po").write_bytes(b'msgid "Done"\nmsgstr "Hotovo"\nmsgstr "Znovu"\n')
    refused = runner.invoke(main, ["deploy", str(tmp_path)])
    assert refused.exit_code == 1 and "repair.cs.po:3: a second msgstr for the same msgid" in refused.output


DRAWN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:tns="t" id="defs" targetNamespace="t">
  <bpmn:collaboration id="collaboration">
    <bpmn:participant id="shop" name="Repair shop" processRef="tns:fix" />
    <bpmn:participant id="courier" name="Courier" />
    <bpmn:messageFlow id="booked" name="Pickup booked" sourceRef="book" targetRef="courier" />
    <bpmn:textAnnotation id="hint"><bpmn:text>The courier calls first</bpmn:text></bpmn:textAnnotation>
  </bpmn:collaboration>
  <bpmn:category id="areas"><bpmn:categoryValue id="area_workshop" value="Workshop" /></bpmn:category>
  <bpmn:process id="fix" name="Fix a device" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_support" name="support" /></bpmn:laneSet>
    <bpmn:startEvent id="start" name="Device arrived" />
    <bpmn:exclusiveGateway id="broken" name="Broken?" />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="broken" />
    <bpmn:sequenceFlow id="f_yes" name="yes" sourceRef="broken" targetRef="book" />
    <bpmn:sequenceFlow id="f_no" name="no" sourceRef="broken" targetRef="end" />
    <bpmn:subProcess id="book" name="Book the pickup">
      <bpmn:intermediateThrowEvent id="told" name="Customer told" />
    </bpmn:subProcess>
    <bpmn:endEvent id="end" name="Sent back" />
    <bpmn:dataStoreReference id="register" name="Device register" />
    <bpmn:dataObject id="serial_data" name="not drawn: its reference is" />
    <bpmn:dataObjectReference id="serial" name="Serial number" dataObjectRef="serial_data" />
    <bpmn:textAnnotation id="note"><bpmn:text>Check the warranty first</bpmn:text></bpmn:textAnnotation>
    <bpmn:group id="workshop" categoryValueRef="area_workshop" />
  </bpmn:process>
  <bpmn:process id="courier_process" name="Not ours" isExecutable="false">
    <bpmn:startEvent id="other_start" name="Not drawn with fix" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_every_name_a_diagram_draws_is_a_text_of_the_model():
    """Events, gateways, flows, lanes, the pools and message flows of its collaboration, annotations, groups and
    data: what a diagram of the process draws is translated through the same catalogs as its tasks."""
    parsed = ParsedFiles([SourceFile("fix.bpmn", DRAWN.encode())], keep_going=True)
    texts = model_translations.texts_of("fix.bpmn", parsed.process_node("fix"), parsed.elements, {})
    places = {text.text: text.places for text in texts}
    assert places == {
        "Fix a device": ["process"],
        "support": ["lane lane_support: a team of this name is shown by its display name unless translated here"],
        "Device arrived": ["event start"],
        "Broken?": ["gateway broken"],
        "yes": ["flow f_yes"],
        "no": ["flow f_no"],
        "Book the pickup": ["task book"],
        "Customer told": ["event told"],
        "Sent back": ["event end"],
        "Device register": ["data store register"],
        "Serial number": ["data object serial"],
        "Check the warranty first": ["annotation note"],
        "Workshop": ["group workshop"],
        "Repair shop": ["pool shop"],
        "Courier": ["pool courier"],
        "Pickup booked": ["message flow booked"],
        "The courier calls first": ["annotation hint"],
    }
    assert [text.text for text in texts if text.team] == ["support"]


def test_a_lane_needs_no_translation_and_may_have_one(site):
    """Lanes name the teams of their tasks: left untranslated, pages show the team's display name, so no warning;
    a catalog that translates one is not told the model lacks the text either."""
    _, client, _ = site
    assert deploy(client, files(repair_de_po=po(GERMAN), repair_cs_po=po(CZECH, "cs")))["warnings"] == []
    translated = files(repair_de_po=po(GERMAN | {"support": "Kundendienst"}), repair_cs_po=po(CZECH, "cs"))
    assert deploy(client, translated)["warnings"] == []


def test_catalog_texts_survive_writing_and_reading():
    texts = [
        model_translations.ModelText('Say "hello"'),
        model_translations.ModelText("two\nlines\tand a \\ backslash"),
        model_translations.ModelText("Zpráva"),
    ]
    known = {
        'Say "hello"': 'Sag „hallo" bitte',
        "two\nlines\tand a \\ backslash": "zwei\nZeilen",
        "Zpráva": "Nachricht",
    }
    written = model_translations.write_catalog(texts, "x.bpmn", "de", known)
    assert model_translations.parse_catalog("x.de.po", written.encode()).messages == known
    continued = b'msgid ""\n"Hel"\n"lo"\nmsgstr ""\n"Hal"\n"lo"\n\n#, fuzzy\nmsgid "Bye"\nmsgstr "Tschuss"\n'
    parsed = model_translations.parse_catalog("x.de.po", continued)
    assert parsed.messages == {"Hello": "Hallo"}  # a fuzzy entry is not a translation yet
    assert list(parsed.entries) == ["Hello", "Bye"]


def test_the_page_helpers_for_task_lists_and_forms(site):
    """What the staff pages use: a task dict's name and a form's fields in the viewer's language."""
    from api.pages import model_words
    from api.pages.form_fields import fields_for

    care, client, app = site
    deploy(client, files(repair_de_po=po(GERMAN)))
    task = {"process_key": "repair", "name": "Check the device"}
    with app.test_request_context("/tasks", headers={"Accept-Language": "de"}):
        assert model_words.task_name(task) == "Gerät prüfen"  # the latest version's
        assert model_words.task_name({**task, "version": 1}, "cs") == "Check the device"  # no Czech catalog
        assert model_words.model_text("repair", 1, "Done") == "Abgeschlossen"
        assert model_words.model_text("unknown", None, "Done") == "Done"
        schema, ui = json.loads(FORM), json.loads(FORM_UI)
        fields = model_words.translate_fields(fields_for(schema, ui, {}, {}), "repair", 1)
        assert [(f.label, f.help) for f in fields] == [
            ("Wie wir es zurückgeben", ""),
            ("Notiz für die Werkstatt", "Freiwillig."),
        ]
        assert fields[0].options == [("pickup", "Selbst abholen"), ("courier", "Per Kurier")]


def test_deploy_warnings_and_the_template_count_the_same_texts_also_of_camunda_forms(site):
    from tests.conftest import DATA

    care, _, _ = site
    path = DATA / "camunda_form_data.bpmn"
    texts = model_translations.file_texts(path, [DATA])
    assert any(text.places[0].startswith("form camunda-form.") for text in texts)
    [warning] = [w for w in care.repository.check([SourceFile(path.name, path.read_bytes())]).warnings]
    assert f"no translations: {len(texts)} texts show in English" in warning.message


def test_staff_read_the_catalogs_stage_labels_in_their_language(site):
    care, client, app = site
    deploy(client, files(repair_de_po=po(GERMAN), repair_cs_po=po(CZECH, "cs")))
    with care.db.write() as session:
        session.add(Customer(id="C-7", name="Rita Repair", email="rita@example.com", tier="standard", language="de"))
    started, _ = care.runtime.start(StartRequest("repair", {}, customer_id="C-7"), "portal")
    care.identity.add_group("support")
    sam = care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.set_preferences(sam.id, language="de", time_zone=None)
    staff = app.test_client()
    sign_in(staff, "sam")
    listed = staff.get("/instances").text
    assert ">In Reparatur<" in listed and ">Repairing<" not in listed  # the list's column
    assert '<option value="Repairing">In Reparatur</option>' in listed  # the stage filter: key sent, label shown
    customer_page = staff.get("/customers/C-7").text
    assert "In Reparatur" in customer_page and ">Repairing<" not in customer_page
    case_page = staff.get(f"/instances/{started['id']}").text  # its history's steps: the task's German name
    assert '<td data-label="Schritt">Gerät prüfen</td>' in case_page and ">Check the device<" not in case_page
    care.identity.add_user("lea", "admin", password="correct horse battery")
    care.identity.set_preferences(care.identity.by_name("lea").id, language="de", time_zone=None)
    lead = app.test_client()
    sign_in(lead, "lea")
    assert "Bericht: Reparaturauftrag" in lead.get("/analytics/processes/repair").text
    assert ">Reparaturauftrag</a>" in lead.get("/analytics").text


def test_the_customer_message_is_shown_in_the_customers_language(site):
    care, client, app = site
    names = ("hello_care.bpmn", "hello_care.de.po", "hello_care.cs.po")
    data = {"files": [(io.BytesIO((PROCESSES / n).read_bytes()), n) for n in names]}
    assert deploy(client, data)["warnings"] == []  # the message's template is a text of the catalogs
    view, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Drucker"}), "portal")
    code, anonymous = view["tracking_code"], app.test_client()
    assert anonymous.get(f"/api/status/{code}?lang=de").json["message"] == "Wir beantworten Ihre Anfrage „Drucker“."
    assert anonymous.get(f"/api/status/{code}?lang=en").json["message"] == "We are answering your inquiry “Drucker”."
    assert "Odpovídáme na Váš dotaz „Drucker“." in anonymous.get(f"/track/{code}?lang=cs").text
