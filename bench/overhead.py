"""Section 1: the full stack (HTTP, waitress, database) against the bare SpiffWorkflow library, same lifecycle.

The lifecycle is the inquiry intake's shape: start, complete the staff task, complete the
customer confirmation.  The bare run does the same transitions in one process and, like any
persistent use of the library, serializes and deserializes the workflow between steps.  Each row's
ratio is to the bare library measured in turns with it, round by round, in the same minutes: this
machine's speed moves by up to a factor of two within minutes, and a ratio of figures taken minutes
apart moved with it.
"""

from __future__ import annotations

import itertools
import threading
import time

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from bench.common import PROCESSES, Client, Server, count_statements, database, deploy, engine_for, serve

PROCESS = "inquiry_lifecycle"
ROUNDS = 6  # the stack and the bare library take turns this many times per row
# Statements per step (start, staff task, confirmation) at f6aaf5e, before #21 item 1, counted the same way.
STATEMENTS_BEFORE = {"sqlite": [14, 18, 15], "postgresql": [14, 18, 13]}


class BareLibrary:
    """The lifecycle with the bare library, serializing between steps: parsed once, timed in slices."""

    def __init__(self) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(PROCESSES / f"{PROCESS}.bpmn"))
        self.spec = parser.get_spec(PROCESS)
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def seconds(self, count: int) -> float:
        """How long ``count`` lifecycles take."""
        serializer = self.serializer
        began = time.perf_counter()
        for _ in range(count):
            workflow = BpmnWorkflow(self.spec)
            workflow.do_engine_steps()
            stored = serializer.serialize_json(workflow)
            for _step in range(2):
                workflow = serializer.deserialize_json(stored)
                (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
                task.data["answer"] = "ok"
                task.run()
                workflow.do_engine_steps()
                stored = serializer.serialize_json(workflow)
            if not serializer.deserialize_json(stored).is_completed():
                raise RuntimeError("bare lifecycle did not complete")
        return time.perf_counter() - began


def bare_lifecycles(count: int) -> float:
    """Instances/s of the lifecycle with the bare library, serializing between steps."""
    return count / BareLibrary().seconds(count)


def _one_lifecycle(client: Client) -> None:
    instance = client.ok("POST", f"/api/process-definitions/{PROCESS}/instances", {"variables": {"topic": "bench"}})
    (task,) = instance["tasks"]
    done = client.ok("POST", f"/api/tasks/{task['id']}/complete", {"data": {"answer": "ok"}})
    (confirmation,) = done["instance"]["tasks"]
    client.ok("POST", f"/api/tasks/{confirmation['id']}/complete", {"data": {"confirmed": True}})


def http_lifecycles(backend: str, clients: int, per_client: int, bare: BareLibrary, bare_per_round: int) -> dict:
    """Instances/s through ``carecenter serve`` with ``clients`` concurrent clients, and of the bare library
    in the same minutes: the two take turns in ``ROUNDS`` rounds (the bare library while the server idles),
    so that a machine that speeds up or slows down during the run moves both alike."""
    rounds = max(1, min(ROUNDS, per_client))
    with database(backend) as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        care.close()
        with serve(url, f"overhead-{backend}-{clients}") as server:
            _one_lifecycle(server.client())  # warm up: first requests load the spec and the pools
            stack_seconds = bare_seconds = 0.0
            for round_number in range(rounds):
                bare_seconds += bare.seconds(bare_per_round)
                count = per_client // rounds + (per_client % rounds if round_number == rounds - 1 else 0)
                stack_seconds += clients_round(server, clients, count)
    stack = clients * per_client / stack_seconds
    bare_rate = rounds * bare_per_round / bare_seconds
    return {
        "backend": backend,
        "clients": clients,
        "instances_per_s": stack,
        "bare_instances_per_s": bare_rate,
        "ratio_to_bare": stack / bare_rate,
        "rounds": rounds,
    }


def clients_round(server: Server, clients: int, per_client: int, reconnect: bool = False) -> float:
    """Seconds for ``clients`` concurrent clients to run ``per_client`` lifecycles each (``reconnect``: each
    lifecycle on a new connection); the clock starts once every client is connected and ready."""
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)

    def run() -> None:
        client = server.client()
        ready.wait()
        try:
            for _ in range(per_client):
                if reconnect:
                    client.reconnect()
                _one_lifecycle(client)
        except BaseException as exc:  # reported after the round, never hidden
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return elapsed


def statements_per_step(backend: str) -> tuple[list[int], list[int]]:
    """SQL statements and round trips of each step of one lifecycle (in process through the Flask app; BEGIN not
    counted; COMMIT counted only where it carries statements :mod:`engine.write_batch` kept)."""
    from api.app import create_app

    with database(backend) as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        client = create_app(care).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('bench')[1]}"

        def post(path: str, body: dict) -> dict:
            answer = client.post(path, json=body)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"{path}: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
            return answer.json

        marks: list[tuple[int, int]] = []
        for _ in range(2):  # the second lifecycle is counted: the first fills caches (spec, token)
            with count_statements(care.db) as counter:
                marks = [(0, 0)]
                instance = post(f"/api/process-definitions/{PROCESS}/instances", {"variables": {"topic": "bench"}})
                marks.append(tuple(counter))
                done = post(f"/api/tasks/{instance['tasks'][0]['id']}/complete", {"data": {"answer": "ok"}})
                marks.append(tuple(counter))
                post(f"/api/tasks/{done['instance']['tasks'][0]['id']}/complete", {"data": {"confirmed": True}})
                marks.append(tuple(counter))
        care.close()
    steps = list(itertools.pairwise(marks))
    return [after[0] - before[0] for before, after in steps], [after[1] - before[1] for before, after in steps]


def run(smoke: bool) -> dict:
    total = 8 if smoke else 240
    bare = BareLibrary()
    alone = bare_lifecycles(20 if smoke else 1000)
    bare_per_round = 5 if smoke else 150
    rows = [
        http_lifecycles(backend, clients, max(1, total // clients), bare, bare_per_round)
        for backend in ("sqlite", "postgresql")
        for clients in (1, 8)
    ]
    statements = {}
    for backend in ("sqlite", "postgresql"):
        now, round_trips = statements_per_step(backend)
        statements[backend] = {"before": STATEMENTS_BEFORE[backend], "now": now, "round_trips": round_trips}
    return {
        "bare_instances_per_s": alone,
        "full_stack": rows,
        "goal_ratio": 0.5,
        "statements": statements,
        "goal_statements": 12,
    }
