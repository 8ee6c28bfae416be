"""The SQL statements of the hot path (#21): a budget per step, so that a step that starts sending more is noticed.

The lifecycle is section 1 of the benchmark (bench/processes/inquiry_lifecycle.bpmn): a start, the staff task, the
customer's confirmation, through the Flask app; the timer is section 3's (bench/processes/bench_timer.bpmn). BEGIN
is not counted (psycopg sends it on its own). When a change saves a statement, lower the budget here.
"""

from __future__ import annotations

import io
from datetime import timedelta

from engine.config import PROJECT_ROOT
from tests.statements_sent import statements_sent

PROCESSES = PROJECT_ROOT / "bench" / "processes"
LIFECYCLE_BUDGET = [11, 10, 7]  # start, staff task, confirmation (BENCHMARKS.md, section 1)
FIRING_BUDGET = 9  # one due timer: the claim (its SELECT and UPDATE) and the firing's seven


def deploy(client, name: str) -> None:
    files = {"files": [(io.BytesIO((PROCESSES / name).read_bytes()), name)]}
    assert client.post("/api/deployments", data=files).status_code == 201


def test_each_step_of_the_lifecycle_stays_within_its_statement_budget(care, client):
    deploy(client, "inquiry_lifecycle.bpmn")

    def post(path: str, body: dict) -> dict:
        sent.clear()
        answer = client.post(path, json=body)
        assert answer.status_code in (200, 201), answer.json
        return answer.json

    def lifecycle() -> list[int]:
        started = post("/api/process-definitions/inquiry_lifecycle/instances", {"variables": {"topic": "budget"}})
        counts = [len(sent)]
        done = post(f"/api/tasks/{started['tasks'][0]['id']}/complete", {"data": {"answer": "ok"}})
        counts.append(len(sent))
        post(f"/api/tasks/{done['instance']['tasks'][0]['id']}/complete", {"data": {"confirmed": True}})
        return [*counts, len(sent)]

    with statements_sent(care) as sent:
        lifecycle()  # the first fills the caches (the parsed definition, the token); the second is counted
        steps = list(zip(("start", "task", "confirmation"), lifecycle(), LIFECYCLE_BUDGET, strict=True))
    last_step = "\n".join(sent)
    assert all(count <= budget for _, count, budget in steps), f"(step, sent, budget): {steps}; the last:\n{last_step}"


def test_a_timer_firing_stays_within_its_statement_budget(care, client, clock):
    deploy(client, "bench_timer.bpmn")
    due = (clock.now() + timedelta(hours=1)).isoformat()
    started = client.post("/api/process-definitions/bench_timer/instances", json={"variables": {"due": due}})
    assert started.status_code == 201, started.json
    clock.advance(timedelta(hours=2))
    with statements_sent(care) as sent:
        assert care.timers.fire_due() == 1
    claims = [s for s in sent if s.lstrip().startswith("SELECT timers.id, timers.instance_id, timers.due_at")]
    assert len(claims) == 2  # the one that found the timer, and the one that found nothing more
    assert len(sent) - 1 <= FIRING_BUDGET, "\n".join(sent)
