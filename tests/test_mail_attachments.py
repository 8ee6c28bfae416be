# ruff: noqa: F811 (the fixtures of tests/test_mail.py are imported and then requested by name)
"""Customers' attachments on the case: listed with the type their content shows, downloaded by staff who may see
the case, never rendered. On real parts: a mail with files sent with ``smtplib`` to the receiver, pages through the
Flask test client, on the database under test.
"""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from engine import mail_attachments
from engine.errors import NotFound
from engine.mail_attachments import safe_filename, sniff
from engine.tasks import TaskFilter
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import care, mail, process, receiver, send  # noqa: F401 (fixtures)
from tests.test_pages import csrf

PASSWORD = "correct horse battery"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def nested_zip() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("bomb.txt", "0" * 100_000)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
    return outer.getvalue()


def with_files() -> EmailMessage:
    message = mail(subject="Invoice wrong", body="See the files.")
    message.add_attachment(PDF, maintype="image", subtype="png", filename="scan.png")  # a PDF that says it is a PNG
    message.add_attachment(HTML, maintype="text", subtype="plain", filename="../../etc/notes.txt")
    message.add_attachment(nested_zip(), maintype="application", subtype="zip", filename="logs.zip")
    forwarded = mail(subject="Earlier mail", body="Forwarded.")
    message.add_attachment(forwarded)
    return message


@pytest.fixture
def case_with_files(care, receiver):
    send(receiver, with_files())
    [row] = process(care)
    care.jobs.run_due("w")  # look up the customer: the first task appears, for its team
    [task] = care.tasks.list(TaskFilter(instance_id=row.instance_id), 10, None).items
    team = sorted(task["candidate_groups"])[0]
    care.identity.add_group(team)
    care.identity.add_group("elsewhere")
    care.identity.add_user("sam", "staff", [team], password=PASSWORD)
    care.identity.add_user("otto", "staff", ["elsewhere"], password=PASSWORD)
    care.identity.add_user("ada", "admin", password=PASSWORD)
    return row


@pytest.fixture
def client(care):
    from api.app import create_app

    return create_app(care).test_client()


def sign_in(client, username: str) -> None:
    token = csrf(client.get("/login").data)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def test_a_cases_attachments_are_listed_with_the_type_their_content_shows(care, case_with_files):
    files = care.mail.attachments.list(case_with_files.instance_id)
    assert [(f.index, f.filename, f.content_type) for f in files] == [
        (1, "scan.png", "application/pdf"),
        (2, "notes.txt", "text/html"),
        (3, "logs.zip", "application/zip"),
        (4, "attachment-4.eml", "message/rfc822"),
    ]
    assert files[0].size == len(PDF) and all(f.downloadable for f in files)
    assert {f.mail_id for f in files} == {case_with_files.id}


def test_staff_who_see_the_case_download_files_as_attachments_never_rendered(care, case_with_files, client):
    case_id, mail_id = case_with_files.instance_id, case_with_files.id
    sign_in(client, "sam")
    page = client.get(f"/instances/{case_id}/attachments").get_data(as_text=True)
    assert "scan.png" in page and "logs.zip" in page and "application/pdf" in page
    assert f'href="/instances/{case_id}/mail/{mail_id}/attachments/1"' in page
    pdf = client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/1")
    assert pdf.status_code == 200 and pdf.data == PDF
    assert pdf.headers["Content-Type"] == "application/pdf"  # what it is, not what the sender said
    assert pdf.headers["Content-Disposition"].startswith('attachment; filename="scan.png"')
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    html = client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/2")
    assert html.data == HTML and html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')
    forwarded = client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/4")
    assert forwarded.headers["Content-Type"] == "message/rfc822" and b"Earlier mail" in forwarded.data
    assert client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/5").status_code == 404
    assert client.get(f"/instances/{case_id}/mail/{mail_id + 1}/attachments/1").status_code == 404


def test_staff_of_another_team_get_nothing(care, case_with_files, client):
    case_id, mail_id = case_with_files.instance_id, case_with_files.id
    sign_in(client, "otto")
    assert client.get(f"/instances/{case_id}/attachments").status_code == 403
    answer = client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/1")
    assert answer.status_code == 403 and PDF not in answer.data
    signed_out = client.application.test_client().get(f"/instances/{case_id}/mail/{mail_id}/attachments/1")
    assert signed_out.status_code in (302, 401) and PDF not in signed_out.data
    sign_in(client, "ada")  # an admin sees every case
    assert client.get(f"/instances/{case_id}/mail/{mail_id}/attachments/1").data == PDF


def test_a_file_above_the_limit_is_listed_but_not_handed_out(care, receiver, monkeypatch):
    monkeypatch.setattr(mail_attachments, "MAX_DOWNLOAD_BYTES", 1000)
    message = mail(subject="Huge")
    message.add_attachment(b"\x00" * 1001, maintype="application", subtype="octet-stream", filename="disk.img")
    send(receiver, message)
    [row] = process(care)
    [big] = care.mail.attachments.list(row.instance_id)
    assert (big.filename, big.size, big.downloadable) == ("disk.img", 1001, False)
    with pytest.raises(NotFound, match="larger than"):
        care.mail.attachments.download(row.instance_id, row.id, 1)


def test_sniffing_and_file_names():
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff(b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>") == "image/svg+xml"
    assert sniff("Grüße aus Brno".encode()) == "text/plain"
    assert sniff(b"\x00\x01\x02") == "application/octet-stream"
    assert safe_filename('C:\\Users\\a\\"evil"\r\n.pdf', "x") == "_evil_.pdf"
    assert safe_filename("...", "attachment-1") == "attachment-1"


def test_the_one_line_for_the_case_page_lists_the_files_for_whoever_may_see_the_case(care, case_with_files, client):
    from flask import g, render_template_string

    from engine.tokens import Principal

    line = '{% include "mail/_case_attachments.html" %}'  # what the case page (staff/instance.html) adds
    case = {"id": case_with_files.instance_id}
    team = next(iter(next(u for u in care.identity.users() if u.username == "sam").groups))
    with client.application.test_request_context("/"):
        g.principal = Principal("sam", "staff", frozenset({team}))
        shown = render_template_string(line, case=case)
        g.principal = Principal("otto", "staff", frozenset({"elsewhere"}))
        hidden = render_template_string(line, case=case)
    assert "scan.png" in shown and "Files the customer sent" in shown
    assert "scan.png" not in hidden
