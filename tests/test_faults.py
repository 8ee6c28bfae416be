"""SIGKILL one of two servers and one of two workers under load, start them again: nothing lost, nothing twice.

#22 item 5, CI-sized (``bench/faults.py``, section 13, runs it longer): real ``carecenter serve`` and
``carecenter worker`` processes on one database, clients over HTTP; see tests/fault_run.py for the
load and for what is checked afterwards. On the wall clock; no assertion on speed.
"""

from __future__ import annotations

import tests.worker_operations  # noqa: F401  (registers test_slow_call here too, for the deploy check)
from tests.conftest import make_engine, source
from tests.fault_run import FaultRun, check

INSTANCES = 16


def test_a_server_and_a_worker_killed_under_load_lose_nothing_and_do_nothing_twice(database_url, tmp_path):
    care = make_engine(database_url)
    care.repository.deploy([source("fault_run.bpmn")], "test", "test")
    run = FaultRun(care, database_url, tmp_path)
    try:
        outcome = run.run(INSTANCES)
    finally:
        run.stop()
    try:
        check(run, INSTANCES)
        assert outcome.instances == INSTANCES and outcome.server_restart_seconds > 0
    finally:
        care.close()
