"""Deploying BPMN: versions, checksums, sibling references, dialects and precise errors."""

import io

import pytest
from click.testing import CliRunner

from api.commands import main
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.errors import DeploymentInvalid
from tests.conftest import DATA, source, upload


def deploy(client, *names):
    return client.post("/api/deployments", data=upload(*names))


def test_first_deploy_creates_version_one(client):
    response = deploy(client, "hello_care.bpmn")
    assert response.status_code == 201
    assert response.json["changed"] is True
    assert response.json["definitions"] == [
        {"key": "hello_care", "name": "Hello care", "version": 1, "executable": True, "status": "created"}
    ]
    listed = client.get("/api/process-definitions").json["items"]
    assert [(d["key"], d["version"]) for d in listed] == [("hello_care", 1)]


def test_unchanged_deploy_stores_nothing_and_says_so(client):
    deploy(client, "hello_care.bpmn")
    again = deploy(client, "hello_care.bpmn")
    assert again.status_code == 200
    assert again.json["changed"] is False
    assert again.json["deployment_id"] is None
    assert again.json["definitions"][0]["status"] == "unchanged"
    assert len(client.get("/api/deployments").json["items"]) == 1


def test_changed_process_gets_next_version_and_running_instances_keep_theirs(client):
    deploy(client, "hello_care.bpmn")
    old = client.post("/api/process-definitions/hello_care/instances", json={}).json
    changed = source("hello_care.bpmn").content.replace(b"Answer the inquiry", b"Answer the question")
    response = client.post("/api/deployments", data={"files": [(io.BytesIO(changed), "hello_care.bpmn")]})
    assert response.status_code == 201
    assert response.json["definitions"][0]["version"] == 2
    new = client.post("/api/process-definitions/hello_care/instances", json={}).json
    assert (old["version"], new["version"]) == (1, 2)
    assert old["tasks"][0]["name"] == "Answer the inquiry"
    assert new["tasks"][0]["name"] == "Answer the question"
    versions = client.get("/api/process-definitions/hello_care").json["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    xml_v1 = client.get("/api/process-definitions/hello_care/xml?version=1")
    assert xml_v1.content_type.startswith("application/xml")
    assert b"Answer the inquiry" in xml_v1.data
    assert b"Answer the question" in client.get("/api/process-definitions/hello_care/xml").data
    # The old instance still completes on its own version.
    done = client.post(f"/api/tasks/{old['tasks'][0]['id']}/complete", json={"data": {"answer": "Done"}})
    assert done.json["instance"]["status"] == "completed"


def test_invalid_deployment_is_rejected_whole_with_file_line_and_element(client):
    response = deploy(client, "hello_care.bpmn", "bad_script.bpmn", "dangling_flow.bpmn")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["type"] == "/problems/invalid-deployment"
    errors = {e["file"]: e for e in response.json["errors"]}
    assert errors["bad_script.bpmn"]["line"] == 7
    assert errors["bad_script.bpmn"]["element_id"] == "compute"
    assert "syntax error" in errors["bad_script.bpmn"]["message"]
    assert errors["dangling_flow.bpmn"]["element_id"] == "d2"
    assert "nowhere" in errors["dangling_flow.bpmn"]["message"]
    assert client.get("/api/process-definitions").json["items"] == []
    assert client.get("/api/deployments").json["items"] == []


GATEWAY_WITHOUT_WAY_OUT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
  <bpmn:process id="gateway_probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="fork"><bpmn:incoming>f1</bpmn:incoming></bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="choose" />
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="either" />
    <bpmn:exclusiveGateway id="choose"><bpmn:incoming>f2</bpmn:incoming></bpmn:exclusiveGateway>
    <bpmn:inclusiveGateway id="either"><bpmn:incoming>f3</bpmn:incoming></bpmn:inclusiveGateway>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_choosing_gateway_without_an_outgoing_flow_is_refused_naming_it(client):
    files = {"files": [(io.BytesIO(GATEWAY_WITHOUT_WAY_OUT), "gateways.bpmn")]}
    response = client.post("/api/deployments", data=files)
    assert response.status_code == 422
    found = [(e["file"], e["line"], e["element_id"]) for e in response.json["errors"]]
    assert found == [("gateways.bpmn", 9, "choose"), ("gateways.bpmn", 10, "either")]  # a parallel one may end
    assert "exclusive gateway has no outgoing sequence flow" in response.json["errors"][0]["message"]
    assert client.get("/api/process-definitions").json["items"] == []


def test_malformed_xml_and_entities_are_refused(client):
    broken = client.post("/api/deployments", data={"files": [(io.BytesIO(b"<bpmn:definitions"), "broken.bpmn")]})
    assert broken.status_code == 422
    assert broken.json["errors"][0]["file"] == "broken.bpmn"
    assert "well-formed" in broken.json["errors"][0]["message"]
    bomb = deploy(client, "entity_bomb.bpmn")
    assert bomb.status_code == 422
    assert "DOCTYPE" in bomb.json["errors"][0]["message"]


def test_bad_uploads_get_clear_errors(client, app):
    assert client.post("/api/deployments", data={}).status_code == 400
    wrong = client.post("/api/deployments", data={"files": [(io.BytesIO(b"x"), "notes.txt")]})
    assert wrong.status_code == 422
    assert wrong.json["errors"] == [
        {"file": "notes.txt", "line": None, "element_id": None, "message": "not a .bpmn, .bpmn20.xml or .dmn file"}
    ]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    too_big = client.post("/api/deployments", data={"files": [(io.BytesIO(b" " * 5000), "big.bpmn")]})
    assert too_big.status_code == 413
    assert too_big.content_type == "application/problem+json"


def test_sibling_files_deploy_together_and_call_each_other(client):
    response = deploy(client, "call_parent.bpmn", "call_child.bpmn")
    assert response.status_code == 201, response.json
    started = client.post("/api/process-definitions/call_parent/instances", json={}).json
    [task] = started["tasks"]
    assert (task["element_id"], task["candidate_groups"]) == ("child_task", ["technical"])
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"found": "cable"}})
    assert done.json["instance"]["status"] == "completed"


def test_call_activity_may_reference_an_already_deployed_process(client):
    assert deploy(client, "call_child.bpmn").status_code == 201
    response = deploy(client, "call_parent.bpmn")
    assert response.status_code == 201, response.json
    started = client.post("/api/process-definitions/call_parent/instances", json={}).json
    assert started["tasks"][0]["element_id"] == "child_task"


def test_call_activity_to_unknown_process_points_at_the_call(client):
    response = deploy(client, "call_parent.bpmn")
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert (error["file"], error["element_id"]) == ("call_parent.bpmn", "call")
    assert error["line"] == 5
    assert "call_child" in error["message"]


def test_camunda_modeler_file_deploys_with_its_task_attributes(client):
    assert deploy(client, "camunda_billing.bpmn", "invoice_check.json").status_code == 201
    started = client.post("/api/process-definitions/camunda_billing/instances", json={}).json
    [task] = started["tasks"]
    assert task["candidate_groups"] == ["billing", "team_lead"]
    assert task["candidate_users"] == ["alice"]
    assert task["form_key"] == "invoice_check.json"
    second = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"invoice_ok": True}}).json["instance"][
        "tasks"
    ]
    assert second[0]["assignee"] == "bob"


def test_non_executable_process_is_stored_but_cannot_start(client):
    assert deploy(client, "non_executable.bpmn").status_code == 201
    [definition] = client.get("/api/process-definitions").json["items"]
    assert definition["executable"] is False
    response = client.post("/api/process-definitions/non_executable/instances", json={})
    assert response.status_code == 409
    assert response.json["type"] == "/problems/not-executable"


def test_unknown_definition_is_404(client):
    for path in ("/api/process-definitions/nope", "/api/process-definitions/nope/xml"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json["type"] == "/problems/not-found"
    assert client.post("/api/process-definitions/nope/instances", json={}).status_code == 404


def test_deployments_list_pages_with_next_link(client):
    for index in range(3):
        changed = source("hello_care.bpmn").content.replace(b"Hello care", f"Hello care {index}".encode())
        client.post("/api/deployments", data={"files": [(io.BytesIO(changed), "hello_care.bpmn")]})
    first = client.get("/api/deployments?limit=2").json
    assert len(first["items"]) == 2
    assert first["items"][0]["definitions"][0]["version"] == 3
    second = client.get(first["next"]).json
    assert [d["definitions"][0]["version"] for d in second["items"]] == [1]
    assert second["next"] is None


def test_a_dmn_file_with_two_decisions_is_refused_with_their_ids(care):
    two = (PROJECT_ROOT / "processes" / "classify_inquiry.dmn").read_text()
    second = (PROJECT_ROOT / "processes" / "inquiry_sla.dmn").read_text()
    decision = second[second.index("  <decision ") : second.index("</decision>") + len("</decision>")]
    combined = two.replace("  <dmndi:DMNDI>", decision + "\n  <dmndi:DMNDI>")
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([SourceFile("both.dmn", combined.encode())], "test", "test")
    [problem] = refused.value.problems
    assert problem.file == "both.dmn"
    assert "may hold one decision; this one holds 2 (classify_inquiry, inquiry_sla)" in problem.message


def test_a_changed_decision_versions_the_processes_that_use_it_and_no_others(care):
    def shipped(name: str, replace: tuple[str, str] | None = None) -> SourceFile:
        text = (PROJECT_ROOT / "processes" / name).read_text()
        return SourceFile(name, (text.replace(*replace) if replace else text).encode())

    files = ["inquiry_intake.bpmn", "escalation.bpmn", "hello_care.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn"]
    care.repository.deploy([shipped(name) for name in files], "first", "test")
    alone = care.repository.deploy([shipped("hello_care.bpmn")], "again", "test")
    assert [(d.key, d.status) for d in alone.definitions] == [("hello_care", "unchanged")]

    faster = shipped("inquiry_sla.dmn", ('"P1D"', '"PT12H"'))
    result = care.repository.deploy([shipped(name) for name in files[:3]] + [shipped(files[3]), faster], "sla", "test")
    statuses = {d.key: d.status for d in result.definitions}
    assert statuses["inquiry_intake"] != "unchanged"
    assert statuses["escalation"] == statuses["hello_care"] == "unchanged"


def test_flows_without_ids_run_every_element(client):
    """The schema allows flows without ids; they must not collapse into one and skip the process."""
    assert deploy(client, "unnamed_flows.bpmn").status_code == 201
    started = client.post("/api/process-definitions/unnamed_flows/instances", json={}).json
    assert started["status"] == "active" and [t["element_id"] for t in started["tasks"]] == ["review"]
    done = client.post(f"/api/tasks/{started['tasks'][0]['id']}/complete", json={"data": {}}).json
    assert sorted(t["element_id"] for t in done["instance"]["tasks"]) == ["first", "second"]
    for task in done["instance"]["tasks"]:
        finished = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).json
    assert finished["instance"]["status"] == "completed"
    history = client.get(f"/api/instances/{started['id']}/history").json["items"]
    assert [e["element_id"] for e in history if e["event_type"] == "task_completed"] == ["review", "first", "second"]


def _placed(warnings: list[dict]) -> list[dict]:
    """The warnings about elements, without the one about texts left untranslated (tests/test_model_translations.py)."""
    return [w for w in warnings if not w["message"].startswith("no translations:")]


def test_unreachable_elements_deploy_with_a_placed_warning(client, monkeypatch, database_url):
    expected = {
        "file": "unreachable_task.bpmn",
        "line": 9,
        "element_id": "forgotten",
        "message": "no path from a start event leads here: this element never runs",
    }
    checked = client.post("/api/deployments/check", data=upload("unreachable_task.bpmn"))
    assert checked.status_code == 200 and _placed(checked.json["warnings"]) == [expected]
    deployed = deploy(client, "unreachable_task.bpmn")
    assert deployed.status_code == 201 and _placed(deployed.json["warnings"]) == [expected]
    assert _placed(deploy(client, "hello_care.bpmn").json["warnings"]) == []
    monkeypatch.setenv("CARECENTER_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["check", str(DATA / "unreachable_task.bpmn")])
    assert result.exit_code == 0
    assert "warning: unreachable_task.bpmn:9: forgotten: no path from a start event leads here" in result.output
