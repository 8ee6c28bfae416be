"""Several servers starting at once each make sure the bootstrap token exists: one inserts, none fails.

Found by the fault bench (#22): two ``serve`` processes started together, the second one's insert
lost the race and the server exited with "a token with this value exists already".
"""

from __future__ import annotations

import threading

from sqlalchemy import event, func, select

from engine.models import ApiToken
from engine.tokens import digest
from tests.conftest import make_engine

VALUE = "cc_bootstrap-race-0123456789"


def _count(care) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.token_hash == digest(VALUE)))


def test_the_other_server_inserts_between_the_check_and_the_insert(any_database_url):
    """Server A finds no token; before it inserts, server B has made it. A accepts B's row."""
    first, second = make_engine(any_database_url), make_engine(any_database_url)
    raced = []

    def after_execute(conn, cursor, statement, parameters, context, executemany):
        if not raced and "FROM api_tokens" in statement:
            raced.append(True)
            second.tokens.ensure(VALUE, "bootstrap", "admin")

    event.listen(first.db.engine, "after_cursor_execute", after_execute)
    try:
        first.tokens.ensure(VALUE, "bootstrap", "admin")
    finally:
        event.remove(first.db.engine, "after_cursor_execute", after_execute)
    assert raced == [True]
    assert _count(first) == 1
    assert first.tokens.authenticate(VALUE) is not None
    first.close()
    second.close()


def test_eight_servers_at_once(any_database_url):
    engines = [make_engine(any_database_url) for _ in range(8)]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start(care) -> None:
        barrier.wait()
        try:
            care.tokens.ensure(VALUE, "bootstrap", "admin")
        except BaseException as error:  # noqa: BLE001 - the test reports any failure of any server
            failures.append(error)

    threads = [threading.Thread(target=start, args=(care,)) for care in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert _count(engines[0]) == 1
    for care in engines:
        care.close()
