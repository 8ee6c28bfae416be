"""Camunda 7's REST API under ``/engine-rest``: the subset its external-task workers and integrations call.

Camunda 7 users have external-task workers (Java, JavaScript, Python clients) and integrations that
speak Camunda's REST API; with this subset they connect to carecenter unchanged.  The JSON shapes,
status codes and errors (:mod:`api.camunda_errors`) follow Camunda's REST reference; the work is done
by the engine (:mod:`engine.external_tasks`, the runtime and messages), this module only reads and
writes Camunda's JSON.  Fields these endpoints do not know are ignored, as Camunda's own older
versions ignore what newer clients send; fields whose meaning carecenter cannot honour (tenants,
start instructions, correlating to all) are refused with 400.  docs/camunda.md lists what is served.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for

from api.auth import current_principal
from api.requests import NUL_REFUSED, contains_nul, refuse_nul_characters
from api.routes.common import care
from engine.camunda_variables import from_typed, to_typed
from engine.errors import InvalidRequest, NotExecutable, NotFound, Unprocessable
from engine.external_tasks import FetchRequest, Topic, definition_id
from engine.runtime import StartRequest

blueprint = Blueprint("engine_rest", __name__, url_prefix="/engine-rest")

MAX_ID = 100  # worker ids, business keys and names are stored in columns of this size or more
INSTANCE_FILTERS = {
    "businessKey",
    "processDefinitionKey",
    "processDefinitionId",
    "processInstanceIds",
    "firstResult",
    "maxResults",
}


# -- process definitions and instances ----------------------------------------------------------


@blueprint.post("/process-definition/key/<key>/start")
def start(key: str):
    body = _body(optional=True)
    _unsupported(body, "caseInstanceId", "startInstructions", "skipCustomListeners", "skipIoMappings")
    variables = from_typed(body.get("variables"))
    business_key = _string(body, "businessKey")
    try:
        view, _ = care().runtime.start(StartRequest(key, variables, business_key), current_principal().name)
    except (NotFound, NotExecutable):
        raise NotFound(f"No matching process definition with key: {key} and no tenant-id") from None
    with_variables = _flag(body, "withVariablesInReturn")
    return _instance(view, with_variables)


@blueprint.get("/process-instance")
def instances():
    unknown = sorted(set(request.args) - INSTANCE_FILTERS)
    if unknown:
        raise InvalidRequest(
            f"query parameter(s) {', '.join(unknown)} not supported (supported: {', '.join(sorted(INSTANCE_FILTERS))})"
        )
    key, version = request.args.get("processDefinitionKey"), None
    if request.args.get("processDefinitionId"):
        definition_key, _, number = request.args["processDefinitionId"].rpartition(":")
        if key not in (None, definition_key) or not number.isdigit():
            return []
        key, version = definition_key, int(number)
    ids = None
    if request.args.get("processInstanceIds"):
        ids = [int(i) for i in request.args["processInstanceIds"].split(",") if i.strip().isdigit()]
    views = care().runtime.open_instances(
        process_key=key,
        business_key=request.args.get("businessKey"),
        version=version,
        ids=ids,
        first=_int_arg("firstResult", 0),
        limit=_int_arg("maxResults", None),
    )
    return [_instance(view) for view in views]


@blueprint.get("/process-instance/<instance_id>")
def instance(instance_id: str):
    missing = NotFound(f"Process instance with id {instance_id} does not exist")
    if not instance_id.isdigit():
        raise missing
    try:
        view = care().runtime.get(int(instance_id), with_data=False)
    except NotFound:
        raise missing from None
    if view["status"] in ("completed", "cancelled"):
        raise missing  # Camunda's runtime forgets ended instances (they are history there)
    return _instance(view)


def _instance(view: dict, with_variables: bool = False) -> dict:
    """An instance as Camunda's ``ProcessInstanceDto`` (with ``variables`` when asked)."""
    answer = {
        "links": [
            {
                "method": "GET",
                "href": url_for("engine_rest.instance", instance_id=str(view["id"]), _external=True),
                "rel": "self",
            }
        ],
        "id": str(view["id"]),
        "definitionId": definition_id(view["process_key"], view["version"]),
        "businessKey": view["business_key"],
        "caseInstanceId": None,
        "ended": view["status"] in ("completed", "cancelled"),
        "suspended": False,
        "tenantId": None,
    }
    if with_variables:
        answer["variables"] = to_typed(care().runtime.get(view["id"])["data"])
    return answer


# -- messages -----------------------------------------------------------------------------------


@blueprint.post("/message")
def correlate():
    body = _body()
    _unsupported(
        body,
        "tenantId",
        "localCorrelationKeys",
        "processVariablesLocal",
        "processVariablesToTriggeredScope",
        "all",
    )
    name = _string(body, "messageName")
    if name is None:
        raise InvalidRequest("No message name supplied")
    target = _string(body, "processInstanceId")
    if target is not None and not target.isdigit():
        raise InvalidRequest(f"Cannot correlate message '{name}': no process instance with id {target}")
    correlation = from_typed(body.get("correlationKeys"), "correlationKeys")
    if any(isinstance(value, dict | list) for value in correlation.values()):
        raise InvalidRequest("correlationKeys must be strings, numbers, booleans or dates")
    published = care().messages.publish(
        name,
        principal=current_principal().name,
        business_key=_string(body, "businessKey"),
        correlation={key: _text(value) for key, value in correlation.items()},
        payload=from_typed(body.get("processVariables"), "processVariables"),
        target_instance_id=int(target) if target else None,
        keep=False,
    )
    if published.status not in ("delivered", "started"):
        raise InvalidRequest(
            f"Cannot correlate message '{name}': No process definition or execution matches the parameters"
        )
    if not _flag(body, "resultEnabled"):
        return "", 204
    with_variables = _flag(body, "variablesInResultEnabled")
    instance_id = published.started if published.status == "started" else published.instances[0]
    if published.status == "started":
        result = {
            "resultType": "ProcessDefinition",
            "execution": None,
            "processInstance": _instance(care().runtime.get(instance_id, with_data=False)),
        }
    else:
        execution = {"id": str(instance_id), "processInstanceId": str(instance_id), "ended": False, "tenantId": None}
        result = {"resultType": "Execution", "execution": execution, "processInstance": None}
    if with_variables:
        result["variables"] = to_typed(care().runtime.get(instance_id)["data"])
    return [result]


def _text(value: object) -> str:
    """A correlation value as carecenter compares it (text; booleans as Camunda writes them)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- external tasks -----------------------------------------------------------------------------


@blueprint.post("/external-task/fetchAndLock")
def fetch_and_lock():
    body = _body()
    topics = body.get("topics")
    if not isinstance(topics, list) or not all(isinstance(topic, dict) for topic in topics):
        raise InvalidRequest("'topics' must be a list of topic objects")
    fetch = FetchRequest(
        worker_id=_worker(body),
        max_tasks=_number(body, "maxTasks", required=True),
        topics=tuple(_topic(topic) for topic in topics),
        use_priority=_flag(body, "usePriority"),
        newest_first=_newest_first(body.get("sorting")),
        wait_ms=_number(body, "asyncResponseTimeout", default=0),
    )
    return [task.as_dict() for task in care().external_tasks.fetch_and_lock(fetch)]


def _topic(topic: dict) -> Topic:
    _unsupported(topic, "tenantIdIn", "processDefinitionVersionTag", "processVariables")
    name = _string(topic, "topicName")
    if name is None:
        raise InvalidRequest("every topic needs a 'topicName'")
    variables = topic.get("variables")
    if variables is not None and not (isinstance(variables, list) and all(isinstance(v, str) for v in variables)):
        raise InvalidRequest("a topic's 'variables' must be a list of variable names")
    keys = [topic["processDefinitionKey"]] if topic.get("processDefinitionKey") else []
    ids = [topic["processDefinitionId"]] if topic.get("processDefinitionId") else []
    return Topic(
        name=name,
        lock_ms=_number(topic, "lockDuration", required=True, minimum=1),
        variables=tuple(variables) if variables is not None else None,
        local_only=_flag(topic, "localVariables"),
        business_key=_string(topic, "businessKey"),
        process_keys=tuple(keys + _strings(topic, "processDefinitionKeyIn")),
        definition_ids=tuple(ids + _strings(topic, "processDefinitionIdIn")),
        include_properties=_flag(topic, "includeExtensionProperties"),
    )


def _newest_first(sorting: object) -> bool | None:
    if not sorting:
        return None
    if not isinstance(sorting, list) or len(sorting) != 1 or not isinstance(sorting[0], dict):
        raise InvalidRequest("'sorting' supports one entry, sortBy 'createTime'")
    entry = sorting[0]
    if entry.get("sortBy") != "createTime" or str(entry.get("sortOrder", "asc")).lower() not in ("asc", "desc"):
        raise InvalidRequest("'sorting' supports sortBy 'createTime' with sortOrder 'asc' or 'desc'")
    return str(entry.get("sortOrder", "asc")).lower() == "desc"


@blueprint.post("/external-task/<task_id>/complete")
def complete(task_id: str):
    body = _body()
    care().external_tasks.complete(task_id, _worker(body), from_typed(body.get("variables")), _principal())
    return "", 204


@blueprint.post("/external-task/<task_id>/failure")
def failure(task_id: str):
    body = _body()
    care().external_tasks.failure(
        task_id,
        _worker(body),
        error_message=_string(body, "errorMessage", limit=None),
        error_details=_string(body, "errorDetails", limit=None),
        retries=_number(body, "retries", default=0),
        retry_timeout_ms=_number(body, "retryTimeout", default=0),
        variables=from_typed(body.get("variables")),
        principal=_principal(),
    )
    return "", 204


@blueprint.post("/external-task/<task_id>/bpmnError")
def bpmn_error(task_id: str):
    body = _body()
    code = _string(body, "errorCode")
    if code is None:
        raise InvalidRequest("'errorCode' is required")
    care().external_tasks.bpmn_error(
        task_id,
        _worker(body),
        code,
        _string(body, "errorMessage", limit=None),
        from_typed(body.get("variables")),
        _principal(),
    )
    return "", 204


@blueprint.post("/external-task/<task_id>/extendLock")
def extend_lock(task_id: str):
    body = _body()
    care().external_tasks.extend_lock(task_id, _worker(body), _number(body, "newDuration", required=True))
    return "", 204


@blueprint.post("/external-task/<task_id>/unlock")
def unlock(task_id: str):
    care().external_tasks.unlock(task_id)
    return "", 204


# -- reading Camunda's request bodies -----------------------------------------------------------


def _principal() -> str:
    return current_principal().name


def _body(optional: bool = False) -> dict:
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object (Content-Type: application/json)")
    if contains_nul(body):
        raise InvalidRequest(NUL_REFUSED)
    return body


@blueprint.before_request
def _no_nul_characters() -> None:
    """Camunda answers input it cannot take with 400 (InvalidRequestException): so does this subset for NUL."""
    try:
        refuse_nul_characters()
    except Unprocessable as refused:
        raise InvalidRequest(refused.detail) from None


def _unsupported(body: dict, *names: str) -> None:
    """Refuse fields carecenter cannot honour, unless they are empty or false (as clients send by default)."""
    given = sorted(name for name in names if body.get(name) not in (None, False, [], {}, ""))
    if given:
        raise InvalidRequest(f"not supported by carecenter: {', '.join(given)} (see docs/camunda.md)")


def _string(body: dict, name: str, limit: int | None = MAX_ID) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or (limit is not None and len(value) > limit):
        size = f" of at most {limit} characters" if limit else ""
        raise InvalidRequest(f"'{name}' must be a non-empty string{size}")
    return value


def _strings(body: dict, name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"'{name}' must be a list of strings")
    return value


def _worker(body: dict) -> str:
    worker = _string(body, "workerId")
    if worker is None:
        raise InvalidRequest("'workerId' is required")
    return worker


def _number(body: dict, name: str, *, required: bool = False, default: int = 0, minimum: int = 0) -> int:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequest(f"'{name}' must be a whole number of at least {minimum}")
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be true or false")
    return value


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise InvalidRequest(f"query parameter '{name}' must be a whole number of at least 0")
    return int(raw)
