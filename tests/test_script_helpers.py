"""spiff-arena's script helpers run in the sandbox: who started and who completed, the environment, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.runtime import StartRequest
from tests.conftest import source


def test_spiff_arena_models_call_their_helpers(database_url, clock):
    care = CareEngine(
        Settings.from_env(database_url=database_url, processes_dir=PROJECT_ROOT / "processes", environment="staging"),
        clock=clock,
    )
    try:
        care.repository.deploy([source("spiff_arena_helpers.bpmn")], "test", "test")
        started, _ = care.runtime.start(StartRequest("spiff_arena_helpers", {}), "portal")
        data = care.runtime.get(started["id"])["data"]
        assert data["started_by"] == "portal" and data["env"] == "staging"
        assert data["info"] == {"process_instance_id": started["id"], "process_model_identifier": "spiff_arena_helpers"}
        assert data["stamp"] == clock.now().timestamp()  # the engine clock, not the wall clock
        assert datetime.fromisoformat(data["due"]) == datetime.fromtimestamp(data["stamp"], UTC) + timedelta(days=2)
        assert data["berlin_hour"] == 13
        clock.advance("PT1H")
        care.tasks.complete(started["tasks"][0]["id"], {}, "sam")
        done = care.runtime.get(started["id"])
        assert done["status"] == "completed" and done["data"]["reviewed_by"] == "sam"
        assert done["data"]["started_by"] == "portal"
    finally:
        care.close()


def test_helpers_refuse_what_they_cannot_do(care):
    bad = source("spiff_arena_helpers.bpmn").content.replace(b'"Europe/Berlin"', b'"Mars/Olympus"')
    care.repository.deploy([SourceFile("spiff_arena_helpers.bpmn", bad)], "test", "test")
    started, _ = care.runtime.start(StartRequest("spiff_arena_helpers", {}), "portal")
    assert started["status"] == "failed"
    [incident] = care.incidents.list(None, started["id"], 10, None).items
    assert "unknown time zone 'Mars/Olympus'" in incident["message"]
