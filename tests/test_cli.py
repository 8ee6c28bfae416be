"""The carecenter command: check, deploy, db upgrade, token management."""

import time

import pytest
from click.testing import CliRunner

from api.commands import main
from engine.principals import CACHE_SECONDS
from engine.runtime import InstanceFilter
from tests.conftest import DATA, make_engine

PROCESSES = DATA.parent.parent / "processes"


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", database_url)

    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)

    return invoke


def test_check_prints_file_line_element_message_and_exits_1(run):
    result = run("check", str(DATA / "bad_script.bpmn"), str(DATA / "dangling_flow.bpmn"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "bad_script.bpmn:7: compute: Python syntax error in script: '(' was never closed (line 1)" in lines
    assert any(line.startswith("dangling_flow.bpmn:7: d2: sequence flow targetRef 'nowhere'") for line in lines)


def test_check_reports_every_problem_of_every_file_at_once(run, tmp_path):
    """A syntax problem in one file does not hide the problems SpiffWorkflow and the checks find in others."""
    broken_child = (
        (DATA / "call_child.bpmn")
        .read_text()
        .replace(
            '<bpmn:userTask id="child_task" name="Investigate">',
            '<bpmn:scriptTask id="child_task" name="Investigate"><bpmn:script>x = (</bpmn:script>',
        )
        .replace("</bpmn:userTask>", "</bpmn:scriptTask>")
    )
    (tmp_path / "call_child.bpmn").write_text(broken_child)
    files = [DATA / "bad_script.bpmn", DATA / "service_unknown.bpmn", DATA / "call_parent.bpmn"]
    result = run("check", *map(str, files), str(tmp_path / "call_child.bpmn"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(line.startswith("bad_script.bpmn:7: compute: Python syntax error") for line in lines)
    assert any(line.startswith("call_child.bpmn:6: child_task: Python syntax error") for line in lines)
    assert any("unknown operation 'no_such_operation'" in line for line in lines)
    # call_parent calls the broken child: that is the child's problem, not reported again as a missing process
    assert not any(line.startswith("call_parent.bpmn") for line in lines), lines


def test_check_of_valid_files_stores_nothing(run, database_url):
    result = run("check", str(PROCESSES / "hello_care.bpmn"))
    assert result.exit_code == 0, result.output
    assert "hello_care: ok" in result.output
    assert make_engine(database_url).repository.latest_definitions() == []


def test_deploy_folder_then_again_unchanged(run, database_url):
    first = run("deploy", str(PROCESSES))
    assert first.exit_code == 0, first.output
    assert "hello_care v1: created" in first.output
    second = run("deploy", str(PROCESSES))
    assert "hello_care v1: unchanged" in second.output
    assert "nothing changed" in second.output
    shipped = sorted(path.stem for path in PROCESSES.glob("*.bpmn"))
    assert [d.key for d in make_engine(database_url).repository.latest_definitions()] == shipped


def test_deploy_of_invalid_files_exits_1(run):
    result = run("deploy", str(DATA / "bad_script.bpmn"))
    assert result.exit_code == 1
    assert "bad_script.bpmn:7: compute:" in result.output


def test_missing_path_is_a_usage_error(run):
    result = run("deploy", "/no/such/file.bpmn")
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_db_upgrade_is_repeatable(run):
    assert run("db", "upgrade").exit_code == 0
    assert "up to date" in run("db", "upgrade").output


def test_token_create_list_revoke(run, database_url):
    created = run("token", "create", "mail-gateway", "--expires", "P30D")
    assert created.exit_code == 0, created.output
    value = created.stdout.strip().splitlines()[0]
    care = make_engine(database_url)
    principal = care.tokens.authenticate(value)
    assert principal is not None and principal.name == "token:mail-gateway"
    listing = run("token", "list").output
    assert "mail-gateway" in listing and value not in listing
    token_id = listing.split()[0]
    assert "revoked" in run("token", "revoke", token_id).output
    time.sleep(CACHE_SECONDS)  # another process's change counts within the token cache's second (engine.principals)
    assert care.tokens.authenticate(value) is None


def test_token_create_rejects_bad_input(run):
    assert run("token", "create", "x", "--expires", "soon").exit_code == 2
    assert run("token", "create", "x", "--user", "nobody").exit_code == 1
    assert run("token", "revoke", "9999").exit_code == 1


def test_users_and_groups_from_the_command_line(run, database_url):
    assert run("group", "add", "support").exit_code == 0
    assert run("group", "add", "support", "--if-missing").exit_code == 0
    assert run("group", "add", "support").exit_code == 1
    added = run(
        "user", "add", "Sam", "--role", "staff", "--group", "support", "--password-stdin", stdin="long enough pw\n"
    )
    assert added.exit_code == 0, added.output
    assert "user sam (staff; groups: support) added" in added.output
    assert run("user", "add", "sam", "--role", "staff", "--if-missing").exit_code == 0
    assert run("user", "add", "x", "--role", "staff", "--group", "nope").exit_code == 1
    assert run("user", "add", "y", "--role", "wizard").exit_code == 2
    short = run("user", "add", "z", "--role", "staff", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least" in short.output
    care = make_engine(database_url)
    assert care.identity.login("sam", "long enough pw").groups == ("support",)
    token = run("token", "create", "sam-cli", "--user", "sam").stdout.splitlines()[0]
    assert care.tokens.authenticate(token).name == "sam"
    assert "sam\tstaff\tsupport\tactive" in run("user", "list").output
    assert run("user", "disable", "sam").exit_code == 0
    time.sleep(CACHE_SECONDS)  # another process's change counts within the token cache's second (engine.principals)
    assert care.tokens.authenticate(token) is None


def test_demo_fills_an_empty_care_center_once_and_its_passwords_work(run, database_url):
    assert run("deploy", str(PROCESSES)).exit_code == 0
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "customers: 4 created" in first.output and "instances started" in first.output
    passwords = dict(line.split()[:2] for line in first.output.split("shown only now):\n")[1].strip().splitlines())
    care = make_engine(database_url)
    try:
        assert care.identity.login("ana", passwords["ana"]).groups == ("support",)
        assert {g["name"] for g in care.identity.groups()} >= {"support", "team_lead", "care_manager"}
        started = care.runtime.list(InstanceFilter(), limit=50, after=None).items
        assert {"completed", "active"} <= {i["status"] for i in started}
        demo_cases = [i for i in started if (i["business_key"] or "").startswith("demo-")]
        assert len(demo_cases) == 4 and all(i["customer_id"] for i in demo_cases)  # each filed under its customer
    finally:
        care.close()
    again = run("demo")
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert "shown only now" not in again.output


def test_the_scheduler_and_the_library_stay_quiet_unless_verbose(run):
    import logging

    assert run("group", "list").exit_code == 0
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("spiff").getEffectiveLevel() == logging.WARNING


def test_demo_with_a_password_file_gives_every_demo_user_that_password(run, database_url, tmp_path):
    assert run("deploy", str(PROCESSES)).exit_code == 0
    password_file = tmp_path / "demo-password"
    password_file.write_text("one shared demo pass\n")
    result = run("demo", "--password-file", str(password_file))
    assert result.exit_code == 0, result.output
    assert "one shared demo pass" not in result.output and f"password in {password_file}" in result.output
    care = make_engine(database_url)
    try:
        staff = care.identity.login("demo-staff", "one shared demo pass")
        assert set(staff.groups) >= {"support", "technical", "billing", "sales", "team_lead", "care_manager"}
        assert care.identity.login("demo-admin", "one shared demo pass").role == "admin"
        assert care.identity.login("tomas", "one shared demo pass").groups == ("technical",)
    finally:
        care.close()


def test_commands_on_a_database_that_was_never_migrated_say_so_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["user", "list"])
    assert result.exit_code == 1
    assert "is not set up" in result.output and "carecenter db upgrade" in result.output
    assert "Traceback" not in result.output
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    assert CliRunner().invoke(main, ["user", "list"]).exit_code == 0
