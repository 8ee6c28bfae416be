"""engine.db.try_lock: one holder per name and installation; installations in schemas of one database apart."""

from __future__ import annotations

from engine.db import Database, try_lock
from tests.conftest import PostgresSchema


def test_a_second_transaction_does_not_get_the_lock_until_the_first_ends(any_database_url):
    db = Database(any_database_url)
    try:
        with db.write() as first:
            assert try_lock(first, "carecenter_test")
            if db.is_sqlite:  # the write transaction itself is the lock: a second writer waits for it
                return
            with db.write() as second:
                assert not try_lock(second, "carecenter_test")
                assert try_lock(second, "carecenter_other")
        with db.write() as third:
            assert try_lock(third, "carecenter_test")
    finally:
        db.dispose()


def test_installations_in_two_schemas_of_one_database_do_not_share_the_lock(postgres_schema):
    other = PostgresSchema(postgres_schema.base_url)
    here, there = Database(postgres_schema.url), Database(other.url)
    try:
        with here.write() as first, there.write() as second:
            assert try_lock(first, "carecenter_test") and try_lock(second, "carecenter_test")
    finally:
        here.dispose()
        there.dispose()
        other.drop()
