"""The SQL statements of the hot path (#21): a budget per step, so that a step that starts sending more is noticed.

The lifecycle is section 1 of the benchmark (bench/processes/inquiry_lifecycle.bpmn): a start, the staff task, the
customer's confirmation, through the Flask app. BEGIN is not counted (psycopg sends it on its own); the first
lifecycle fills the caches (the parsed definition, the token) and the second is counted, as the benchmark does.
"""

from __future__ import annotations

import io

from sqlalchemy import event

from engine.config import PROJECT_ROOT

LIFECYCLE = PROJECT_ROOT / "bench" / "processes" / "inquiry_lifecycle.bpmn"
# Statements per step now (BENCHMARKS.md, section 1): lower them here when a change saves one.
BUDGET = [11, 10, 7]


def test_each_step_of_the_lifecycle_stays_within_its_statement_budget(care, client):
    files = {"files": [(io.BytesIO(LIFECYCLE.read_bytes()), LIFECYCLE.name)]}
    assert client.post("/api/deployments", data=files).status_code == 201
    sent: list[str] = []

    def note(_connection, _cursor, statement, *_rest) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            sent.append(statement)

    def post(path: str, body: dict) -> dict:
        answer = client.post(path, json=body)
        assert answer.status_code in (200, 201), answer.json
        return answer.json

    def lifecycle() -> list[int]:
        counts = []
        sent.clear()
        started = post("/api/process-definitions/inquiry_lifecycle/instances", {"variables": {"topic": "budget"}})
        counts.append(len(sent))
        sent.clear()
        done = post(f"/api/tasks/{started['tasks'][0]['id']}/complete", {"data": {"answer": "ok"}})
        counts.append(len(sent))
        sent.clear()
        post(f"/api/tasks/{done['instance']['tasks'][0]['id']}/complete", {"data": {"confirmed": True}})
        counts.append(len(sent))
        return counts

    event.listen(care.db.engine, "before_cursor_execute", note)
    lifecycle()
    counts = lifecycle()
    steps = list(zip(("start", "task", "confirmation"), counts, BUDGET, strict=True))
    last_step = "\n".join(sent)
    assert all(count <= budget for _, count, budget in steps), f"(step, sent, budget): {steps}; the last:\n{last_step}"
