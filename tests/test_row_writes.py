"""engine.row_writes: new rows by Core INSERT, a loaded row's changes in one UPDATE checked against its version."""

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.orm.exc import StaleDataError

from engine.models import CustomerStatus, ProcessInstance, Timer
from engine.row_writes import insert_new, insert_unless_taken, write_changes
from tests.conftest import upload
from tests.statements_sent import statements_sent


@pytest.fixture
def instance_id(care, client) -> int:
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    started = client.post("/api/process-definitions/hello_care/instances", json={"variables": {}})
    assert started.status_code == 201, started.json
    return started.json["id"]


def test_only_the_changed_columns_are_written_and_the_object_is_clean_afterwards(care, instance_id):
    with care.db.write() as session:
        row = session.get(ProcessInstance, instance_id)
        version = row.version
        row.business_key = "B-17"
        row.status = row.status  # set, but to the value it had: not written
        with statements_sent(care) as sent:
            assert write_changes(session, row, version="version")
            [statement] = sent
            assert "business_key" in statement and " status=" not in statement and "WHERE" in statement
            assert row.version == version + 1 and not session.dirty
            assert not inspect(row).modified  # the closing flush need not even look at it
            session.flush()
            assert len(sent) == 1  # nothing left for the unit of work
    with care.db.read() as session:
        stored = session.get(ProcessInstance, instance_id)
        assert (stored.business_key, stored.version) == ("B-17", version + 1)


def test_a_row_without_changes_sends_nothing(care, instance_id):
    with care.db.write() as session:
        status = session.get(CustomerStatus, instance_id)
        status.title = status.title
        with statements_sent(care) as sent:
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
    with care.db.write() as session, pytest.raises(ValueError, match="not a loaded row"):
        write_changes(session, CustomerStatus(instance_id=instance_id))


def new_timer(instance: ProcessInstance, element_id: str) -> Timer:
    return Timer(
        instance_id=instance.id,
        definition_id=instance.definition_id,
        process_key=instance.process_key,
        element_id=element_id,
        element_name=element_id,
        kind="intermediate",
        due_at=instance.started_at,
        status="pending",
        created_at=instance.started_at,
    )


def test_new_rows_are_inserted_in_one_statement_and_stay_in_the_session_as_loaded(care, instance_id):
    with care.db.write() as session:
        instance = session.get(ProcessInstance, instance_id)
        timers = [new_timer(instance, "first"), new_timer(instance, "second")]
        with statements_sent(care) as sent:
            insert_new(session, timers)
            assert sent and all(statement.lstrip().startswith("INSERT INTO timers") for statement in sent)
            if not care.db.is_sqlite:  # SQLite's driver is given one row at a time when ids come back in order
                assert len(sent) == 1
            inserts = len(sent)
            first, second = timers
            assert first.id and second.id == first.id + 1  # given back by the database, in order
            assert (first.occurrence, first.attempts) == (1, 0)  # the columns' defaults, known without reading back
            assert (first.claimed_by, first.fired_at, first.last_error) == (None, None, None)
            assert session.get(Timer, first.id) is first and first in session and not session.new
            session.flush()
            assert len(sent) == inserts  # nothing read back, nothing left to insert
            ids = [timer.id for timer in timers]
    with care.db.read() as session:
        stored = session.scalars(select(Timer).where(Timer.id.in_(ids)).order_by(Timer.id)).all()
        assert [(t.element_id, t.occurrence, t.attempts, t.schedule) for t in stored] == [
            ("first", 1, 0, None),
            ("second", 1, 0, None),
        ]


def test_an_object_already_in_the_session_is_not_inserted_again(care, instance_id):
    with care.db.write() as session:
        instance = session.get(ProcessInstance, instance_id)
        pending = new_timer(instance, "added")
        session.add(pending)
        with pytest.raises(ValueError, match="is not a new Timer"):
            insert_new(session, [pending])
        with pytest.raises(ValueError, match="is not a new ProcessInstance"):
            insert_new(session, [instance])


def test_a_row_whose_unique_value_is_taken_is_not_inserted_and_nothing_changes(care, instance_id):
    with care.db.write() as session:
        taken = session.get(ProcessInstance, instance_id)
        copy = {column.key: getattr(taken, column.key) for column in ProcessInstance.__table__.columns}
        newcomer = ProcessInstance(**{**copy, "id": None, "tracking_code": "another-code"})
        with statements_sent(care) as sent:
            assert not insert_unless_taken(session, newcomer, "reference")  # same reference: nothing stored
            assert len(sent) == 1 and newcomer.id is None and newcomer not in session
            newcomer.reference = "CC-FREE-0000"
            assert insert_unless_taken(session, newcomer, "reference")
            assert len(sent) == 2 and newcomer.id and newcomer in session and not session.new
            new_id = newcomer.id
    with care.db.read() as session:
        assert session.get(ProcessInstance, new_id).reference == "CC-FREE-0000"
        with_reference = select(ProcessInstance.id).where(ProcessInstance.reference == copy["reference"])
        assert session.scalars(with_reference).all() == [instance_id]
