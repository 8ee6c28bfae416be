"""The script sandbox: escape attempts end in a clear refusal with nothing executed; real scripts still work."""

from __future__ import annotations

import copy

import pytest

from engine.sandbox import SandboxViolation, restriction_problems
from engine.scripting import create_script_engine
from tests.conftest import upload

TIME_LIMIT = 0.3

# (id, script, a fragment of the refusal, refused at deploy (compile time) or only when it runs)
ESCAPES = [
    (
        "subclass walk",
        "leak = ().__class__.__bases__[0].__subclasses__()",
        '"__class__" is an invalid attribute',
        "deploy",
    ),
    ("getattr dunder", "leak = getattr((), '__cla' + 'ss__')", 'attribute "__class__" is not allowed', "run"),
    ("str.format attribute", "leak = '{0.__class__}'.format(marker)", 'attribute "format" is not allowed', "deploy"),
    ("format via getattr", "leak = getattr('{0.__init__}', 'for' + 'mat')(marker)", '"format" is not allowed', "run"),
    ("format_map", "leak = '{x.__class__}'.format_map({'x': 1})", 'attribute "format_map"', "deploy"),
    ("generator frame", "g = (i for i in [1])\nleak = g.gi_frame.f_globals", "gi_frame", "deploy"),
    ("frame via getattr", "leak = getattr((i for i in [1]), 'gi_' + 'frame')", '"gi_frame" is not allowed', "run"),
    (
        "__builtins__ lookup",
        "__builtins__['open'](marker, 'w')",
        '"__builtins__" is an invalid variable name',
        "deploy",
    ),
    ("globals()", "globals()['__builtins__']['open'](marker, 'w')", "globals() is not allowed", "run"),
    ("type()", "leak = type(marker)", "type() is not allowed", "run"),
    ("import os", "import os\nos.system('touch ' + marker)", 'import of "os" is not allowed', "deploy"),
    ("__import__", "__import__('os').system('touch ' + marker)", '"__import__" is an invalid variable name', "deploy"),
    ("from os import", "from os import system\nsystem('touch ' + marker)", 'import of "os" is not allowed', "deploy"),
    ("import importlib", "import importlib", 'import of "importlib" is not allowed', "deploy"),
    ("relative import", "from . import engine", "is not allowed", "deploy"),
    ("open", "open(marker, 'w').write('x')", "open() is not allowed", "run"),
    ("exec", "exec('open(marker, \"w\")')", "Exec calls are not allowed", "deploy"),
    ("eval", "leak = eval('1')", "Eval calls are not allowed", "deploy"),
    ("compile", "leak = compile('1', 'x', 'eval')", "compile() is not allowed", "run"),
    ("lambda globals", "f = lambda: 1\nleak = f.__globals__", '"__globals__" is an invalid attribute', "deploy"),
    ("class definition", "class A:\n    pass", "class definitions are not allowed", "deploy"),
    ("unbound str.join", "leak = str.join('a' * 999999, ['b'] * 999999)", "str.join is not allowed", "run"),
    ("recursion bomb", "def f(n):\n    return f(n + 1)\nf(0)", "recursion deeper than", "run"),
    ("huge string", "leak = 'a' * 10**10", "would exceed", "run"),
    ("huge list", "leak = [0] * 10**9", "would exceed", "run"),
    ("huge integer", "leak = 10 ** 10 ** 8", "integer over", "run"),
    ("huge range", "leak = list(range(10**10))", "range of", "run"),
    ("huge padding", "leak = 'x'.center(10**10)", "center() width", "run"),
    ("huge %-format width", "leak = '%999999999d' % 1", "format width", "run"),
    ("huge f-string width", "leak = f'{1:>999999999}'", "format widths over", "deploy"),
    ("huge to_bytes", "leak = (1).to_bytes(10**10, 'big')", "to_bytes()", "run"),
    ("re.sub bomb", "import re\nleak = re.sub('', 'x' * 999999, 'a' * 999999)", "would exceed", "run"),
    ("json indent bomb", "import json\nleak = json.dumps([[[1]]] * 1000, indent=10**6)", "indent is limited", "run"),
    ("decimal exponent", "import decimal\nleak = int(decimal.Decimal('1e999999999'))", "decimal exponents", "run"),
    ("modular power", "leak = pow(3, 2**63999, 2**63999 + 1)", "pow() with a modulus", "run"),
    ("infinite loop", "while True:\n    pass", "time limit", "run"),
    (
        "catching the abort",
        "try:\n    while True:\n        pass\nexcept BaseException:\n    open(marker, 'w')",
        "not a bare except",
        "deploy",
    ),
    (
        "bare except",
        "try:\n    while True:\n        pass\nexcept:\n    open(marker, 'w')",
        "not a bare except",
        "deploy",
    ),
    (
        "finally after the abort",
        "try:\n    while True:\n        pass\nfinally:\n    open(marker, 'w')",
        "finally",
        "deploy",
    ),
    ("except* group", "try:\n    pass\nexcept* Exception:\n    pass", "TryStar statements are not allowed", "deploy"),
    (
        "swallowing with except Exception",
        "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
        "time limit",
        "run",
    ),
    ("doubling loop", "s = 'a' * 1000\nfor i in range(40):\n    s = f'{s}{s}'", "MiB of memory|time limit", "run"),
]


@pytest.fixture
def environment():
    return create_script_engine(time_limit=TIME_LIMIT).environment


@pytest.mark.parametrize(("script", "refusal", "stage"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_escape_attempts_are_refused_with_nothing_executed(environment, tmp_path, script, refusal, stage):
    marker = tmp_path / "pwned"
    data = {"marker": str(marker), "touched": False}
    before = copy.deepcopy(data)

    with pytest.raises(SandboxViolation) as caught:
        environment.execute("touched = True\n" + script, data)

    message = str(caught.value)
    assert message.startswith("refused by the script sandbox: ")
    assert any(fragment in message for fragment in refusal.split("|")), message
    assert "Traceback" not in message
    assert data == before  # not even the first line's assignment came back
    assert not marker.exists()
    assert bool(restriction_problems(script)) == (stage == "deploy")


def test_there_are_enough_escape_attempts():
    assert len(ESCAPES) >= 20


def test_a_refusal_leaves_the_thread_able_to_run_scripts(environment):
    with pytest.raises(SandboxViolation):
        environment.execute("while True:\n    pass", {})
    data = {"n": 2}
    environment.execute("n = n * 21", data)
    assert data == {"n": 42}


def test_allowed_modules_do_not_lead_to_the_modules_they_use(environment):
    for script in (
        "import json\nleak = json.codecs",
        "import datetime\nleak = datetime.sys",
        "import time\ntime.sleep(5)",
    ):
        with pytest.raises(AttributeError):
            environment.execute(script, {})


def test_expressions_are_sandboxed_too(environment):
    assert environment.evaluate("amount > 100 and status == 'open'", {"amount": 120, "status": "open"}) is True
    with pytest.raises(SandboxViolation, match='"__import__" is an invalid variable name'):
        environment.evaluate("__import__('os')", {})
    with pytest.raises(SandboxViolation, match="would exceed"):
        environment.evaluate("'a' * 10**10", {})
    with pytest.raises(SandboxViolation, match="time limit"):
        environment.evaluate("[i for i in range(999999) for j in range(999999)]", {})


LEGITIMATE = """
import datetime
import decimal
import json
import math
import re
import time

due = (datetime.date(2024, 1, 31) + datetime.timedelta(days=30)).isoformat()
age = (datetime.datetime(2024, 6, 1) - datetime.datetime(1990, 6, 1)).days // 365
payload = json.dumps({"visits": visits}, sort_keys=True, indent=2)
parsed = json.loads('{"a": [1, 2]}')["a"]
email_ok = re.fullmatch(r"[^@]+@[^@]+\\.[a-z]+", email) is not None
swapped = re.sub(r"(\\w+)@(\\w+)", r"\\2 at \\1", "ann@clinic")
doubled = [v * 2 for v in visits if v > 1]
by_name = {name: len(name) for name in ["ann", "bo"]}
label = f"{len(visits)} visits, total {sum(visits):.1f}"
total = decimal.Decimal("10.10") + decimal.Decimal("0.20")
is_decimal = isinstance(total, decimal.Decimal)
root = math.sqrt(16)
stamp = time.time() > 0
try:
    int("not a number")
except ValueError as error:
    problem = str(error)


def count(*items, **named):
    return len(items) + len(named)


counted = count(*visits, extra=1)
print("visits:", visits)
shown = printed
del obsolete
"""


def test_legitimate_scripts_still_work(environment):
    data = {"visits": [1, 2, 3], "email": "ann@clinic.example", "obsolete": "remove me"}

    environment.execute(LEGITIMATE, data)

    assert data["due"] == "2024-03-01"
    assert data["age"] == 34
    assert json_round_trip(data["payload"]) == {"visits": [1, 2, 3]}
    assert data["parsed"] == [1, 2]
    assert data["email_ok"] is True
    assert data["swapped"] == "clinic at ann"
    assert data["doubled"] == [4, 6]
    assert data["by_name"] == {"ann": 3, "bo": 2}
    assert data["label"] == "3 visits, total 6.0"
    assert str(data["total"]) == "10.30"
    assert data["is_decimal"] is True
    assert data["root"] == 4.0
    assert data["stamp"] is True
    assert "invalid literal" in data["problem"]
    assert data["counted"] == 4
    assert data["shown"] == "visits: [1, 2, 3]\n"
    assert "obsolete" not in data  # deleted by the script
    assert "count" not in data and "datetime" not in data  # functions and modules stay out of task data


def json_round_trip(text: str):
    import json

    return json.loads(text)


def test_the_engine_clock_is_a_helper(clock):
    from engine.timer_specs import TimerSettings

    environment = create_script_engine(TimerSettings(clock)).environment
    data = {}
    environment.execute("today = now().date().isoformat()", data)
    assert data == {"today": clock.now().date().isoformat()}


def test_data_a_script_leaves_behind_is_capped(environment):
    script = "parts = ['x' * 999999 for i in range(6)]"
    with pytest.raises(SandboxViolation, match="larger than"):
        environment.execute(script, {})


# -- through the engine -----------------------------------------------------------------------


def test_code_the_sandbox_refuses_is_refused_at_deploy(client):
    response = client.post("/api/deployments", data=upload("sandbox_refused.bpmn"))

    assert response.status_code == 422
    errors = {e["element_id"]: e for e in response.json["errors"]}
    assert errors["shell"]["file"] == "sandbox_refused.bpmn"
    assert errors["shell"]["line"] == 7
    assert errors["shell"]["message"] == (
        'refused by the script sandbox in script: import of "os" is not allowed '
        "(allowed: datetime, math, decimal, json, re, time) (line 1)"
    )
    assert '"__class__" is an invalid attribute name' in errors["review"]["message"]
    assert "preScript" in errors["review"]["message"]
    assert client.get("/api/process-definitions").json["items"] == []


def test_an_escape_at_run_time_is_an_incident_and_the_server_keeps_working(client):
    assert client.post("/api/deployments", data=upload("sandbox_escape.bpmn")).status_code == 201

    start = client.post(
        "/api/process-definitions/sandbox_escape/instances", json={"variables": {"value": 1, "attribute": "__class__"}}
    )

    assert start.status_code == 201
    assert start.json["status"] == "failed"
    [incident] = client.get("/api/incidents").json["items"]
    assert incident["instance_id"] == start.json["id"]
    assert incident["element_id"] == "read_attribute"
    assert 'refused by the script sandbox: access to attribute "__class__" is not allowed' in incident["message"]
    assert "Traceback" not in incident["message"]

    fine = client.post(
        "/api/process-definitions/sandbox_escape/instances", json={"variables": {"value": 3, "attribute": "real"}}
    )
    assert fine.status_code == 201
    assert fine.json["status"] == "active"
    assert client.get(f"/api/instances/{fine.json['id']}").status_code == 200
