"""The path one instance took, read from its stored task tree: which elements it entered, when, and which flows.

SpiffWorkflow keeps every task an instance reached in its task tree (a loop adds new tasks, it
does not reset old ones), so the serialized state already holds the path; its timestamps are
wall-clock, not the engine's clock, so times come from the engine's own rows instead:

- a task waited for something the history records (a person completing a user task, a service
  job, a timer, a message or signal): it was completed at the first such history event of that
  element at or after it was entered;
- every other element passes through within one step: completed when entered;
- an element is entered when the element before it in the tree completed (the instance's start
  for the first one); a call activity or subprocess completes with the last task inside it.

A sequence flow was taken when the element at its source and the element at its target are
parent and child in the tree (internal tasks of the library in between are skipped).  Only
the state's JSON is read: no workflow is deserialized.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins import ManualTaskMixin, ServiceTaskMixin, SubWorkflowTaskMixin, UserTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity

REACHED = {8, 16, 32, 64, 128}  # WAITING, READY, STARTED, COMPLETED, ERROR (SpiffWorkflow's TaskState values)
COMPLETED = 64
# history event types that end a wait at an element, and the kind of wait they tell
ENDS_WAIT = {
    "task_completed": "user",
    "job_completed": "service",
    "external_task_completed": "service",
    "timer_fired": "timer",
    "message_received": "message",
    "signal_received": "message",
}
ESCALATION_PROCESS = "escalation"  # a call of this process marks an inquiry as escalated


@dataclass
class Visit:
    element_id: str
    guid: str
    kind: str
    entered_at: datetime
    completed_at: datetime | None


@dataclass
class Path:
    visits: list[Visit] = field(default_factory=list)
    flows: Counter = field(default_factory=Counter)
    escalated: bool = False


@dataclass(frozen=True)
class Outline:
    """What reports need of a BPMN file: element names and sequence flows."""

    names: dict[str, str]  # element or flow id -> its name ("" when it has none)
    flows: dict[tuple[str, str], str]  # (source id, target id) -> sequence flow id
    ends: dict[str, tuple[str, str]]  # sequence flow id -> (source id, target id)


def outline(bpmn_xml: bytes) -> Outline:
    """The outline of every process in a BPMN file (parsed without DTDs, entities or network access)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(bpmn_xml, parser)
    names: dict[str, str] = {}
    flows: dict[tuple[str, str], str] = {}
    ends: dict[str, tuple[str, str]] = {}
    for node in root.iter("{*}*"):
        node_id = node.get("id")
        if node_id and node.get("name") is not None:
            names[node_id] = " ".join(node.get("name").split())
        if etree.QName(node).localname == "sequenceFlow":
            source, target = node.get("sourceRef"), node.get("targetRef")
            if source and target and node_id:
                flows.setdefault((source, target), node_id)
                ends[node_id] = (source, target)
    return Outline(names, flows, ends)


class _Waits:
    """The history events that end waits, per element, consumed in time order as visits take them."""

    def __init__(self, events: list[tuple[str, str, datetime]], reached: frozenset[str]) -> None:
        self.reached = reached  # task guids reached whatever their state
        self._by_element: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for event_type, element_id, at in events:
            if event_type in ENDS_WAIT and element_id:
                self._by_element[element_id].append((at, ENDS_WAIT[event_type]))
        for items in self._by_element.values():
            items.sort()

    def take(self, element_id: str, entered: datetime) -> tuple[datetime, str] | None:
        items = self._by_element.get(element_id)
        if not items:
            return None
        for index, (at, kind) in enumerate(items):
            if at >= entered:
                del items[index]
                return at, kind
        return None


def walk(
    workflow: dict,
    spec,
    subprocess_specs: dict,
    flows: dict[tuple[str, str], str],
    started_at: datetime,
    history: list[tuple[str, str, datetime]],
    tasks_of_people: frozenset[str] = frozenset(),
) -> Path:
    """The path of one instance from its serialized workflow (``state["workflow"]``) and its history events.

    ``tasks_of_people`` are the guids of its human-task rows: such a task was reached even when
    its state says cancelled (a cancelled instance, an interrupting boundary event).
    """
    path = Path()
    waits = _Waits(history, tasks_of_people)
    _walk_tree(workflow, workflow["root"], spec, subprocess_specs, flows, started_at, waits, path, record=True)
    return path


def _walk_tree(
    tree: dict,
    root: str,
    spec,
    subprocess_specs: dict,
    flows: dict,
    start: datetime,
    waits: _Waits,
    path: Path,
    record: bool,
) -> datetime:
    """Walk one (sub)workflow's tasks from ``root``; returns the time of the last completion in it."""
    tasks = tree["tasks"]
    latest = start
    stack: list[tuple[str, datetime, str | None]] = [(root, start, None)]
    while stack:
        guid, entered, before = stack.pop()
        task = tasks.get(guid)
        if task is None:
            continue
        task_spec = spec.task_specs.get(task["task_spec"])
        element_id = getattr(task_spec, "bpmn_id", None)
        state = task["state"]
        child_time, child_before = entered, before
        if element_id and (state in REACHED or guid in waits.reached):
            completed, kind = _completion(
                task_spec, guid, state, entered, tree, subprocess_specs, flows, waits, path, record
            )
            if isinstance(task_spec, CallActivity):
                path.escalated = path.escalated or getattr(task_spec, "spec", None) == ESCALATION_PROCESS
            if record:
                path.visits.append(Visit(element_id, guid, kind, entered, completed))
                if before is not None and (before, element_id) in flows:
                    path.flows[flows[(before, element_id)]] += 1
            if completed is not None:
                latest = max(latest, completed)
                child_time = completed
            child_before = element_id
        elif not element_id and state == COMPLETED:
            child_time = entered
        if state != COMPLETED and not (element_id is None and state in REACHED):
            continue
        for child in task.get("children", []):
            stack.append((child, child_time, child_before))
    return latest


def _completion(
    task_spec,
    guid: str,
    state: int,
    entered: datetime,
    tree: dict,
    subprocess_specs: dict,
    flows: dict,
    waits: _Waits,
    path: Path,
    record: bool,
) -> tuple[datetime | None, str]:
    """When a reached element was completed (None: not yet) and what kind of wait it was."""
    done = state == COMPLETED
    if isinstance(task_spec, SubWorkflowTaskMixin):
        sub = tree.get("subprocesses", {}).get(guid)
        sub_spec = subprocess_specs.get(sub.get("spec")) if sub else None
        if sub is None or sub_spec is None:
            return (entered if done else None), "call"
        # an embedded subprocess's elements are drawn in the same diagram; a called process's are not
        embedded = record and not isinstance(task_spec, CallActivity)
        inner_flows = flows if embedded else {}
        last = _walk_tree(sub, sub["root"], sub_spec, subprocess_specs, inner_flows, entered, waits, path, embedded)
        return (last if done else None), "call"
    waited = waits.take(task_spec.bpmn_id, entered) if done else None
    if isinstance(task_spec, UserTaskMixin | ManualTaskMixin):
        kind = "user"
    elif isinstance(task_spec, ServiceTaskMixin):
        kind = "service"
    else:
        kind = waited[1] if waited else "other"
    if not done:
        return None, kind
    return (waited[0] if waited else entered), kind
