"""engine.row_writes: a loaded row's changes in one UPDATE of those columns, checked against its version."""

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm.exc import StaleDataError

from engine.models import CustomerStatus, ProcessInstance
from engine.row_writes import write_changes
from tests.conftest import upload


@pytest.fixture
def instance_id(care, client) -> int:
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    started = client.post("/api/process-definitions/hello_care/instances", json={"variables": {}})
    assert started.status_code == 201, started.json
    return started.json["id"]


def statements_of(care) -> list[str]:
    sent: list[str] = []
    event.listen(care.db.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: sent.append(statement))
    return sent


def test_only_the_changed_columns_are_written_and_the_object_is_clean_afterwards(care, instance_id):
    with care.db.write() as session:
        row = session.get(ProcessInstance, instance_id)
        version = row.version
        row.business_key = "B-17"
        row.status = row.status  # set, but to the value it had: not written
        sent = statements_of(care)
        assert write_changes(session, row, version="version")
        [statement] = sent
        assert "business_key" in statement and " status=" not in statement and "WHERE" in statement
        assert row.version == version + 1 and not session.dirty
        session.flush()
        assert len(sent) == 1  # nothing left for the unit of work
    with care.db.read() as session:
        stored = session.get(ProcessInstance, instance_id)
        assert (stored.business_key, stored.version) == ("B-17", version + 1)


def test_a_row_without_changes_sends_nothing(care, instance_id):
    with care.db.write() as session:
        status = session.get(CustomerStatus, instance_id)
        status.title = status.title
        sent = statements_of(care)
        assert not write_changes(session, status)
        assert sent == []


def test_a_row_changed_since_it_was_read_is_not_overwritten(care, instance_id):
    with pytest.raises(StaleDataError), care.db.write() as session:
        row = session.get(ProcessInstance, instance_id)
        version = row.version
        # another writer's step, committed between the read and this write
        session.execute(
            update(ProcessInstance.__table__)
            .where(ProcessInstance.__table__.c.id == instance_id)
            .values(version=version + 1, business_key="theirs")
        )
        row.business_key = "mine"
        write_changes(session, row, version="version")
    with care.db.read() as session:
        stored = session.execute(select(ProcessInstance.business_key, ProcessInstance.version)).one()
        assert tuple(stored) == (None, version)  # the failed transaction changed nothing


def test_a_later_change_in_the_same_transaction_is_written_with_the_new_version(care, instance_id):
    with care.db.write() as session:
        row = session.get(ProcessInstance, instance_id)
        version = row.version
        row.business_key = "first"
        write_changes(session, row, version="version")
        row.business_key = "second"  # left to the unit of work, which checks the version written above
    with care.db.read() as session:
        stored = session.get(ProcessInstance, instance_id)
        assert (stored.business_key, stored.version) == ("second", version + 2)


def test_a_new_object_is_refused(care, instance_id):
    with care.db.write() as session:
        with pytest.raises(ValueError, match="not a loaded row"):
            write_changes(session, CustomerStatus(instance_id=instance_id))
