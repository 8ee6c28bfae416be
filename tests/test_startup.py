"""What ``carecenter serve`` does before it answers (#22 item 7): no Alembic, no hashing, no catalogs at import.

A restarted server answered 9 to 10 s after a kill on a loaded machine, all of it CPU spent before
the port opened; the costs that were not needed for that are kept out of the start, and these
tests keep them out. Timings are in BENCHMARKS.md, section 13, never asserted here.
"""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from engine import schema
from engine.config import PROJECT_ROOT

SERVE_IMPORTS = "import api.commands, api.app, engine.worker, waitress"


def test_the_head_revision_read_from_the_files_is_alembics():
    alembic_head = ScriptDirectory.from_config(schema.alembic_config(None)).get_current_head()
    assert schema.head() == alembic_head


def test_serving_imports_no_alembic_and_compiles_no_catalogs(tmp_path):
    probe = (
        f"{SERVE_IMPORTS}\n"
        "import sys\n"
        "from api import i18n\n"
        "from engine import bpmn, identity\n"
        "print('alembic' in sys.modules, bool(i18n._TRANSLATIONS), identity._dummy_hash.cache_info().currsize,"
        " bpmn._camunda_validator.cache_info().currsize)\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert found.stdout.split() == ["False", "False", "0", "0"]
