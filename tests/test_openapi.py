"""The OpenAPI document (``api/openapi.json``) is kept in step with the routes, and it says what they answer.

Every route of the app is documented and every documented operation exists; the document
is structurally valid; and real responses validate against the schema documented for their
status and content type.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api import policy
from api.document import DOCUMENT, load_document
from api.i18n import LANGUAGES
from engine.identity import ROLES
from engine.intake import CHANNELS
from engine.jobs import JOB_STATUSES
from engine.models import MAX_ID
from engine.runtime import STATUSES
from engine.status import STATUSES as CUSTOMER_STATUSES
from engine.tasks import TASK_SORTS, TASK_STATUSES
from engine.timer_specs import DURATION_PATTERN
from engine.timers import TIMER_STATUSES
from process_library.store import LEVELS, LICENSE_STATUSES, TIERS
from tests.conftest import source, upload

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
BASE_URI = "urn:carecenter:openapi"
FLASK_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTER_TYPES = {
    "int": "integer",
    "id": "integer",
    "float": "number",
    None: "string",
    "string": "string",
    "path": "string",
}


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(DOCUMENT.read_text())


def openapi_path(rule: str) -> str:
    return FLASK_ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule)


def app_operations(app) -> dict[tuple[str, str], object]:
    """(OpenAPI path, lower-case method) -> Flask rule, for every API route (not ``static``, not pages)."""
    operations = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or policy.is_page(rule.endpoint):
            continue
        for method in rule.methods - IMPLICIT_METHODS:
            operations[(openapi_path(rule.rule), method.lower())] = rule
    return operations


def documented_operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def pointer(path: str, *parts: str) -> str:
    """A JSON pointer into the document (``parts`` are escaped)."""
    escaped = [part.replace("~", "~0").replace("/", "~1") for part in parts]
    return "/".join([path, *escaped]) if escaped else path


def resolve(document: dict, ref: str) -> object:
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def all_refs(node: object, where: str = "#") -> list[tuple[str, str]]:
    """Every ``$ref`` in the document, with where it was found."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append((where, value))
            else:
                found.extend(all_refs(value, pointer(where, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(all_refs(value, pointer(where, str(index))))
    return found


format_checker = FormatChecker()


@format_checker.checks("date-time", raises=ValueError)
def _date_time_with_offset(value: object) -> bool:
    """ISO 8601 with an offset, as the API conventions require (the stock checker needs an extra package)."""
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


def validator_for(document: dict, ref: str) -> Draft202012Validator:
    """A validator for the schema at ``ref`` (a local pointer), with every ``$ref`` resolved in the document."""
    registry = Registry().with_resource(BASE_URI, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": BASE_URI + ref}, registry=registry, format_checker=format_checker)


def schema_ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def assert_valid(document: dict, ref: str, body: object) -> None:
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator_for(document, ref).iter_errors(body)
    ]
    assert not problems, f"response does not match {ref}:\n" + "\n".join(problems)


def assert_documented(document: dict, response, path: str, method: str) -> None:
    """The response's status and content type are documented for this operation, and the body matches."""
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} does not document status {status}"
    where = pointer(f"#/paths/{path.replace('~', '~0').replace('/', '~1')}", method, "responses", status)
    documented = operation["responses"][status]
    if "$ref" in documented:
        where, documented = documented["$ref"], resolve(document, documented["$ref"])
    content_type = response.mimetype
    assert content_type in documented.get("content", {}), (
        f"{method.upper()} {path} {status}: content type {content_type} is not documented"
    )
    for header in documented.get("headers", {}):
        if header == "Idempotent-Replayed":  # only present on replays
            continue
        assert header in response.headers, f"{method.upper()} {path} {status}: header {header} missing"
    if content_type.endswith("json"):
        assert_valid(document, pointer(where, "content", content_type, "schema"), response.json)


# -- the document matches the routes ---------------------------------------------------------


def test_every_route_is_documented_and_every_documented_route_exists(app, document):
    in_app = set(app_operations(app))
    in_document = set(documented_operations(document))
    undocumented = sorted(f"{m.upper()} {p}" for p, m in in_app - in_document)
    missing_in_app = sorted(f"{m.upper()} {p}" for p, m in in_document - in_app)
    assert not undocumented, f"routes missing from api/openapi.json: {undocumented}"
    assert not missing_in_app, f"documented in api/openapi.json but not routes of the app: {missing_in_app}"


def test_operation_ids_are_the_flask_endpoints(app, document):
    rules = app_operations(app)
    wrong = {
        f"{method.upper()} {path}": (operation.get("operationId"), rules[(path, method)].endpoint)
        for (path, method), operation in documented_operations(document).items()
        if (path, method) in rules and operation.get("operationId") != rules[(path, method)].endpoint
    }
    assert not wrong, f"operationId differs from the Flask endpoint (documented, actual): {wrong}"


def test_path_parameters_match_the_converters(app, document):
    wrong = []
    for (path, method), rule in app_operations(app).items():
        item = document["paths"][path]
        parameters = [resolve(document, p["$ref"]) if "$ref" in p else p for p in item.get("parameters", [])]
        parameters += [resolve(document, p["$ref"]) if "$ref" in p else p for p in item[method].get("parameters", [])]
        documented = {p["name"]: p for p in parameters if p["in"] == "path"}
        for match in FLASK_ARGUMENT.finditer(rule.rule):
            parameter = documented.get(match["name"])
            expected = CONVERTER_TYPES.get(match["converter"], "string")
            if parameter is None or not parameter.get("required") or parameter["schema"].get("type") != expected:
                wrong.append(f"{method.upper()} {path}: path parameter {match['name']} should be a required {expected}")
        extra = set(documented) - set(rule.arguments)
        if extra:
            wrong.append(f"{method.upper()} {path}: documents path parameters the route lacks: {sorted(extra)}")
    assert not wrong, "\n".join(wrong)


def test_public_routes_need_no_token_and_all_others_do(app, document):
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    rules = app_operations(app)
    wrong = []
    for (path, method), operation in documented_operations(document).items():
        public = policy.is_public(rules[(path, method)].endpoint)
        if public and operation.get("security") != []:
            wrong.append(f"{method.upper()} {path} is public but does not say security: []")
        if not public and ("security" in operation or "401" not in operation["responses"]):
            wrong.append(f"{method.upper()} {path} needs a token: keep the global security and document 401")
    assert not wrong, "\n".join(wrong)


# -- the document is served and structurally valid -------------------------------------------


def test_document_is_served_without_a_token(anonymous, document):
    response = anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == document == load_document()
    assert response.json["openapi"].startswith("3.1")
    assert response.json["info"]["title"] == "carecenter"


def test_every_ref_resolves(document):
    broken = []
    for where, ref in all_refs(document):
        try:
            resolve(document, ref)
        except (KeyError, IndexError, ValueError, TypeError):
            broken.append(f"{where}: {ref}")
    assert not broken, "unresolvable $ref(s):\n" + "\n".join(broken)


def test_every_component_schema_is_a_valid_json_schema(document):
    schemas = document["components"]["schemas"]
    for name in ("Instance", "Task", "HistoryEvent", "Incident", "Definition", "Deployment", "DeploymentResult"):
        assert name in schemas
    assert "errors" in schemas["Problem"]["properties"]
    for name, schema in schemas.items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:
            pytest.fail(f"components/schemas/{name} is not a valid JSON Schema: {error}")


def test_errors_are_documented_as_problem_json(document):
    """Except Camunda's REST subset (tag camunda), whose clients read Camunda's own error JSON."""
    wrong = []
    camunda = {"application/json": {"schema": {"$ref": schema_ref("CamundaError")}}}
    for (path, method), operation in documented_operations(document).items():
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            response = resolve(document, response["$ref"]) if "$ref" in response else response
            if operation["tags"] == ["camunda"]:
                if not path.startswith("/engine-rest/") or response.get("content") != camunda:
                    wrong.append(f"{method.upper()} {path} {status} (Camunda's error JSON)")
            elif list(response.get("content", {})) != ["application/problem+json"]:
                wrong.append(f"{method.upper()} {path} {status}")
    assert not wrong, f"error responses not documented as application/problem+json: {wrong}"


# -- real responses match the document -------------------------------------------------------


def test_responses_of_the_main_path_match_the_document(client, document):
    deployed = client.post("/api/deployments", data=upload("hello_care.bpmn"))
    assert deployed.status_code == 201, deployed.json
    assert_documented(document, deployed, "/api/deployments", "post")
    assert_valid(document, schema_ref("DeploymentResult"), deployed.json)

    again = client.post("/api/deployments", data=upload("hello_care.bpmn"))
    assert again.status_code == 200, again.json
    assert_documented(document, again, "/api/deployments", "post")

    started = client.post(
        "/api/process-definitions/hello_care/instances",
        json={},
        headers={"Idempotency-Key": "openapi-1"},
    )
    assert started.status_code == 201, started.json
    assert_documented(document, started, "/api/process-definitions/{key}/instances", "post")
    assert_valid(document, schema_ref("Instance"), started.json)
    instance_id = started.json["id"]

    tasks = client.get("/api/tasks")
    assert tasks.status_code == 200
    assert_documented(document, tasks, "/api/tasks", "get")
    assert_valid(document, schema_ref("TaskPage"), tasks.json)
    [task] = tasks.json["items"]

    for path, documented in (
        ("/api/deployments", "/api/deployments"),
        ("/api/process-definitions", "/api/process-definitions"),
        ("/api/process-definitions/hello_care", "/api/process-definitions/{key}"),
        ("/api/process-definitions/hello_care/xml?version=1", "/api/process-definitions/{key}/xml"),
        ("/api/instances?status=active", "/api/instances"),
        (f"/api/instances/{instance_id}", "/api/instances/{instance_id}"),
        (f"/api/instances/{instance_id}/history", "/api/instances/{instance_id}/history"),
        (f"/api/tasks/{task['id']}", "/api/tasks/{task_id}"),
        ("/api/incidents", "/api/incidents"),
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.data[:500])
        assert_documented(document, response, documented, "get")

    claimed = client.post(f"/api/tasks/{task['id']}/claim")
    assert_documented(document, claimed, "/api/tasks/{task_id}/claim", "post")
    claimed_again = client.post(f"/api/tasks/{task['id']}/claim")
    assert claimed_again.status_code == 409
    assert_documented(document, claimed_again, "/api/tasks/{task_id}/claim", "post")
    unclaimed = client.post(f"/api/tasks/{task['id']}/unclaim")
    assert_documented(document, unclaimed, "/api/tasks/{task_id}/unclaim", "post")

    completed = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "ok"}})
    assert completed.status_code == 200, completed.json
    assert_documented(document, completed, "/api/tasks/{task_id}/complete", "post")
    assert completed.json["instance"]["status"] == "completed"

    cancelled = client.post(f"/api/instances/{instance_id}/cancel")
    assert cancelled.status_code == 409
    assert_documented(document, cancelled, "/api/instances/{instance_id}/cancel", "post")


def test_cancel_and_replay_match_the_document(client, document):
    client.post("/api/deployments", data=upload("hello_care.bpmn"))
    body = {"business_key": "B-1", "customer_id": "C-1", "variables": {"channel": "mail"}}
    first = client.post("/api/process-definitions/hello_care/instances", json=body, headers={"Idempotency-Key": "k"})
    replayed = client.post("/api/process-definitions/hello_care/instances", json=body, headers={"Idempotency-Key": "k"})
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == first.json
    assert_documented(document, replayed, "/api/process-definitions/{key}/instances", "post")
    reused = client.post(
        "/api/process-definitions/hello_care/instances", json={"variables": {}}, headers={"Idempotency-Key": "k"}
    )
    assert reused.status_code == 422
    assert_documented(document, reused, "/api/process-definitions/{key}/instances", "post")

    cancelled = client.post(f"/api/instances/{first.json['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.json
    assert_documented(document, cancelled, "/api/instances/{instance_id}/cancel", "post")
    assert_valid(document, schema_ref("Instance"), cancelled.json)


def test_error_responses_match_the_document(client, anonymous, document):
    unauthenticated = anonymous.get("/api/tasks")
    assert unauthenticated.status_code == 401
    assert_documented(document, unauthenticated, "/api/tasks", "get")

    bad_limit = client.get("/api/tasks?limit=many")
    assert bad_limit.status_code == 400
    assert_documented(document, bad_limit, "/api/tasks", "get")

    not_found = client.get("/api/instances/999999")
    assert not_found.status_code == 404
    assert_documented(document, not_found, "/api/instances/{instance_id}", "get")

    unknown_field = client.post("/api/tasks/1/complete", json={"answer": "ok"})
    assert unknown_field.status_code == 400
    assert_documented(document, unknown_field, "/api/tasks/{task_id}/complete", "post")

    no_files = client.post("/api/deployments", data={"name": "nothing"})
    assert no_files.status_code == 400
    assert_documented(document, no_files, "/api/deployments", "post")

    invalid = client.post("/api/deployments", data={"files": [(io.BytesIO(b"<not-xml"), "broken.bpmn")]})
    assert invalid.status_code == 422, invalid.json
    assert_documented(document, invalid, "/api/deployments", "post")
    [error] = invalid.json["errors"]
    assert error["file"] == "broken.bpmn"

    too_large = client.post(
        "/api/deployments",
        data={"files": [(io.BytesIO(b" " * (client.application.config["MAX_CONTENT_LENGTH"] + 1)), "big.bpmn")]},
    )
    assert too_large.status_code == 413
    assert_documented(document, too_large, "/api/deployments", "post")


def test_healthz_matches_the_document(anonymous, document):
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert_documented(document, response, "/healthz", "get")


def test_camunda_rest_responses_match_the_document(care, client, document):
    """The /engine-rest subset answers as documented under tag camunda (its shapes are Camunda's)."""
    care.repository.deploy([source("camunda_credit.bpmn")], "test", "test")
    start_path = "/engine-rest/process-definition/key/{key}/start"
    started = client.post(
        "/engine-rest/process-definition/key/credit_application/start",
        json={"businessKey": "b-1", "variables": {"amount": {"value": 5, "type": "Integer"}}},
    )
    assert started.status_code == 200, started.json
    assert_documented(document, started, start_path, "post")
    for path, documented in (
        ("/engine-rest/process-instance?businessKey=b-1", "/engine-rest/process-instance"),
        (f"/engine-rest/process-instance/{started.json['id']}", "/engine-rest/process-instance/{instance_id}"),
    ):
        assert_documented(document, client.get(path), documented, "get")
    fetch_body = {"workerId": "w", "maxTasks": 2, "topics": [{"topicName": "credit_check", "lockDuration": 1000}]}
    fetched = client.post("/engine-rest/external-task/fetchAndLock", json=fetch_body)
    assert_documented(document, fetched, "/engine-rest/external-task/fetchAndLock", "post")
    [task] = fetched.json
    wrong_worker = client.post(f"/engine-rest/external-task/{task['id']}/complete", json={"workerId": "other"})
    assert wrong_worker.status_code == 400
    assert_documented(document, wrong_worker, "/engine-rest/external-task/{task_id}/complete", "post")
    done = client.post(
        f"/engine-rest/external-task/{task['id']}/complete",
        json={"workerId": "w", "variables": {"approved": {"value": False, "type": "Boolean"}}},
    )
    assert (
        done.status_code == 204
        and "204" in document["paths"]["/engine-rest/external-task/{task_id}/complete"]["post"]["responses"]
    )
    unknown = client.post("/engine-rest/process-definition/key/nope/start", json={})
    assert_documented(document, unknown, start_path, "post")
    unmatched = client.post("/engine-rest/message", json={"messageName": "documents_received"})
    assert unmatched.status_code == 400
    assert_documented(document, unmatched, "/engine-rest/message", "post")


# -- the document says what the code accepts and answers --------------------------------------

QUERY_ENUMS = {
    ("/api/instances", "status"): STATUSES,
    ("/api/tasks", "status"): TASK_STATUSES,
    ("/api/tasks", "sort"): TASK_SORTS,
    ("/api/timers", "status"): TIMER_STATUSES,
    ("/api/jobs", "status"): JOB_STATUSES,
    ("/api/status/{tracking_code}", "lang"): LANGUAGES,
}
SCHEMA_ENUMS = {
    ("Instance", "status"): STATUSES,
    ("Task", "status"): TASK_STATUSES,
    ("Timer", "status"): TIMER_STATUSES,
    ("User", "role"): ROLES,
    ("NewUser", "role"): ROLES,
    ("UserChange", "role"): ROLES,
    ("Customer", "tier"): TIERS,
    ("License", "level"): LEVELS,
    ("License", "status"): LICENSE_STATUSES,
    ("CustomerStatus", "status"): CUSTOMER_STATUSES,
}


def test_enums_are_the_values_of_the_code(document):
    """An enum that lags behind the code is a valid answer the document calls invalid (e.g. `renewing`)."""
    wrong = []
    for (path, name), values in QUERY_ENUMS.items():
        item = document["paths"][path]
        parameters = [*item.get("parameters", []), *item.get("get", {}).get("parameters", [])]
        [parameter] = [p for p in parameters if p.get("name") == name]
        if parameter["schema"]["enum"] != list(values):
            wrong.append(f"GET {path} ?{name}: {parameter['schema']['enum']} != {list(values)}")
    for (schema, name), values in SCHEMA_ENUMS.items():
        documented = document["components"]["schemas"][schema]["properties"][name]["enum"]
        if documented != list(values):
            wrong.append(f"{schema}.{name}: {documented} != {list(values)}")
    inquiry = document["paths"]["/api/inquiries"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if inquiry["properties"]["channel"]["enum"] != list(CHANNELS):
        wrong.append(f"POST /api/inquiries channel: {inquiry['properties']['channel']['enum']} != {list(CHANNELS)}")
    assert not wrong, "\n".join(wrong)


def test_path_ids_are_documented_with_the_range_the_routes_accept(app, document):
    wrong = []
    for (path, method), rule in app_operations(app).items():
        item = document["paths"][path]
        parameters = [resolve(document, p["$ref"]) if "$ref" in p else p for p in item.get("parameters", [])]
        for match in FLASK_ARGUMENT.finditer(rule.rule):
            if match["converter"] != "id":
                continue
            [schema] = [p["schema"] for p in parameters if p["name"] == match["name"]]
            if (schema.get("minimum"), schema.get("maximum")) != (1, MAX_ID):
                wrong.append(f"{method.upper()} {path}: {match['name']} should be 1 to {MAX_ID}")
    assert not wrong, "\n".join(wrong)


def test_the_ttl_pattern_is_the_engines_duration_pattern(document):
    body = document["paths"]["/api/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["ttl"]["pattern"] == DURATION_PATTERN


def test_every_json_body_may_be_refused_as_documented(document):
    """api/requests.py answers 400 (not of the documented form), 415 (not JSON) and 422 (text with NUL)."""
    wrong = []
    for (path, method), operation in documented_operations(document).items():
        if path.startswith("/engine-rest/"):
            continue  # Camunda's conventions: whatever it cannot take is 400 (test_engine_rest.py)
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            missing = {"400", "415", "422"} - set(operation["responses"])
            if missing:
                wrong.append(f"{method.upper()} {path}: {sorted(missing)}")
    assert not wrong, "json bodies without their error statuses:\n" + "\n".join(wrong)
