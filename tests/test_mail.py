"""The e-mail channel on real parts: the receiver driven by ``smtplib`` over loopback, on the database under test.

Each complaint the users of other care-center mail channels keep making is a test here: one mail
making two cases, a reply opening a new case when a provider rewrites the Message-ID or the subject
says "AW:", answers not threaded in the customer's mailbox, out-of-office loops, bounces, mislabelled
charsets, one large mail holding up the next one, mail that fails and is gone.
"""

from __future__ import annotations

import os
import smtplib
import socket
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from engine.clock import VirtualClock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.db import Database
from engine.mail_receiver import MailReceiver
from engine.mail_store import MAX_ATTEMPTS, MailStore
from engine.mail_threading import case_of_message_id, signed_message_id, subject_references, without_reply_prefixes
from engine.models import InboundMail, MailBounce, Message, ProcessInstance
from engine.tasks import TaskFilter
from process_library.operations import notify_customer
from process_library.outbox_relay import relay_held_mail
from process_library.registry import OperationContext
from process_library.store import Customer, OutboxMessage
from tests.conftest import source
from tests.smtp_server import free_port, smtp_server  # noqa: F401 (a fixture)

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
SECRET = "test-secret-for-signed-message-ids"
CARE_ADDRESS = "care@carecenter.example"


def engine_on(url: str, smtp_port: int) -> CareEngine:
    settings = Settings.from_env(
        database_url=url,
        processes_dir=PROJECT_ROOT / "processes",
        secret_key=SECRET,
        mail_from=CARE_ADDRESS,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        mail_autoreply_limit=5,
    )
    return CareEngine(settings, clock=VirtualClock())


@pytest.fixture
def bare(database_url, smtp_server):  # noqa: F811
    """An engine without any deployed process."""
    engine = engine_on(database_url, smtp_server.port)
    yield engine
    engine.close()


@pytest.fixture
def care(database_url, smtp_server):  # noqa: F811
    """An engine with inquiry intake deployed and the customer Ada in the store."""
    engine = engine_on(database_url, smtp_server.port)
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="Ada@Example.com", tier="premium", language="en"))
    yield engine
    engine.close()


@pytest.fixture
def receiver(care):
    server = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def mail(
    subject: str = "Printer broken",
    body: str = "My printer prints nothing.",
    sender: str = "Ada Lovelace <ada@example.com>",
    message_id: str | None = "auto",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = CARE_ADDRESS
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = make_msgid(domain="customer.example") if message_id == "auto" else message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def wire(message: EmailMessage | bytes) -> bytes:
    """The mail with CRLF line ends, as it goes over SMTP."""
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(receiver: MailReceiver, message: EmailMessage | bytes, envelope_from: str = "ada@example.com") -> str:
    """Deliver as a sending mail server does; returns the receiver's answer to the data."""
    raw = wire(message)
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=30) as client:
        client.ehlo("mx.example")
        client.mail(envelope_from)
        client.rcpt(CARE_ADDRESS)
        code, answer = client.data(raw)
    return f"{code} {answer.decode()}"


def rows(care, model, *where) -> list:
    with care.db.read() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id if hasattr(model, "id") else None)))


def instance_count(care) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(ProcessInstance))


def process(care) -> list[InboundMail]:
    care.mail.process_due("test-worker")
    return rows(care, InboundMail)


def case_from(care, receiver, **fields) -> tuple[InboundMail, dict]:
    """A new case from a mail of the store's customer Ada; returns its mail row and the instance."""
    message = mail(**fields)
    assert send(receiver, message).startswith("250")
    row = process(care)[-1]
    assert (row.status, row.kind) == ("processed", "inquiry"), row.error
    return row, care.runtime.get(row.instance_id)


# -- arriving and storing -------------------------------------------------------------------------


def test_a_mail_is_stored_byte_for_byte_then_becomes_an_inquiry_of_the_customer(care, receiver):
    message = mail()
    assert send(receiver, message) == "250 2.0.0 OK: stored"
    [row] = rows(care, InboundMail)
    assert row.status == "received"  # acknowledged once stored; processing comes later
    assert care.mail.store.raw(row.id) == wire(message)
    assert (row.source, row.envelope_from, row.recipients) == ("smtp", "ada@example.com", [CARE_ADDRESS])
    [row] = process(care)
    assert (row.status, row.kind, row.sender, row.auto_reply_allowed) == (
        "processed",
        "inquiry",
        "ada@example.com",
        True,
    )
    instance = care.runtime.get(row.instance_id)
    assert (instance["channel"], instance["customer_id"], instance["process_key"]) == ("email", "C-1", "inquiry_intake")
    assert instance["data"]["subject"] == "Printer broken"
    assert instance["data"]["body"] == "My printer prints nothing."


def test_an_unknown_sender_is_an_unverified_contact(care, receiver):
    send(receiver, mail(sender="Zed <zed@elsewhere.example>"), "zed@elsewhere.example")
    [row] = process(care)
    instance = care.runtime.get(row.instance_id)
    assert instance["customer_id"] == "email:zed@elsewhere.example"
    assert instance["data"]["customer_name"] == "Zed"


def test_the_same_mail_delivered_twice_makes_one_case(care, receiver):
    message = mail()
    assert send(receiver, message) == "250 2.0.0 OK: stored"
    assert send(receiver, message) == "250 2.0.0 OK: stored before"
    relayed = mail(message_id=message["Message-ID"])  # the same Message-ID by another path, another hop
    relayed["Received"] = "from backup-mx.example by mx.example; Mon, 2 Mar 2026 10:00:00 +0000"
    assert send(receiver, relayed) == "250 2.0.0 OK: stored before"
    anonymous = mail(subject="No id", message_id=None)
    assert send(receiver, anonymous) == "250 2.0.0 OK: stored"
    anonymous["Received"] = "from another-hop.example by mx.example; Mon, 2 Mar 2026 10:00:01 +0000"
    assert send(receiver, anonymous) == "250 2.0.0 OK: stored before"  # no Message-ID: the content decides
    processed = process(care)
    assert [row.kind for row in processed] == ["inquiry", "inquiry"]
    assert instance_count(care) == 2


def test_processing_a_mail_again_after_a_crash_changes_nothing(care, receiver):
    row, instance = case_from(care, receiver)
    with care.db.write() as session:  # as if the worker died after the intake, before recording the outcome
        stored = session.get(InboundMail, row.id)
        stored.status, stored.kind, stored.instance_id, stored.processed_at = "received", None, None, None
    [again] = process(care)
    assert (again.status, again.kind, again.instance_id) == ("processed", "inquiry", instance["id"])
    assert instance_count(care) == 1


def test_a_mail_over_the_size_limit_is_refused_with_552_and_not_stored(care):
    store = MailStore(care.db, care.clock, max_bytes=20_000)
    server = MailReceiver(store, "127.0.0.1", free_port())
    server.start()
    try:
        assert send(server, mail(body="x" * 30_000)).startswith("552 ")
        assert send(server, mail(body="small")).startswith("250")
    finally:
        server.stop()
    assert len(rows(care, InboundMail)) == 1


def test_a_receiver_that_cannot_store_answers_451_and_the_retry_is_stored(care, receiver, tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing-folder' / 'mail.db'}")  # cannot be opened
    server = MailReceiver(MailStore(broken, care.clock, 1_000_000), "127.0.0.1", free_port())
    server.start()
    message = mail()
    try:
        assert send(server, message) == "451 4.3.0 The mail cannot be stored right now; try again later"
    finally:
        server.stop()
        broken.dispose()
    assert send(receiver, message) == "250 2.0.0 OK: stored"  # the sending server tries again later
    assert [row.kind for row in process(care)] == ["inquiry"]


def test_lmtp_answers_once_per_recipient_after_storing(care):
    server = MailReceiver(care.mail.store, "127.0.0.1", free_port(), lmtp=True)
    server.start()
    recipients = ["care@carecenter.example", "support@carecenter.example", "sales@carecenter.example"]
    try:
        with socket.create_connection((server.hostname, server.port), timeout=30) as connection:
            reader = connection.makefile("rb")

            def answer() -> str:
                lines = [reader.readline().decode()]
                while lines[-1][3:4] == "-":
                    lines.append(reader.readline().decode())
                return lines[-1]

            assert answer().startswith("220")
            for command in ["LHLO mx.example", "MAIL FROM:<ada@example.com>", *[f"RCPT TO:<{r}>" for r in recipients]]:
                connection.sendall(command.encode() + b"\r\n")
                assert answer().startswith("250"), command
            connection.sendall(b"DATA\r\n")
            assert answer().startswith("354")
            connection.sendall(wire(mail()) + b".\r\n")
            answers = [answer() for _ in recipients]
    finally:
        server.stop()
    assert [line.strip() for line in answers] == ["250 2.0.0 OK: stored"] * 3
    [row] = rows(care, InboundMail)
    assert (row.source, row.recipients) == ("lmtp", recipients)


def test_a_20_mb_attachment_does_not_hold_up_the_next_mail(care, receiver):
    big = mail(subject="Logs attached", body="The log files of our server.")
    big.add_attachment(os.urandom(15 * 1024 * 1024), maintype="application", subtype="octet-stream", filename="l.bin")
    raw = wire(big)
    assert len(raw) > 20_000_000
    half = raw.rfind(b"\r\n", 0, len(raw) // 2) + 2
    with socket.create_connection((receiver.hostname, receiver.port), timeout=60) as slow:
        reader = slow.makefile("rb")
        assert reader.readline().startswith(b"220")
        for command in (b"HELO mx.example", b"MAIL FROM:<ada@example.com>", f"RCPT TO:<{CARE_ADDRESS}>".encode()):
            slow.sendall(command + b"\r\n")
            assert reader.readline().startswith(b"250")
        slow.sendall(b"DATA\r\n")
        assert reader.readline().startswith(b"354")
        slow.sendall(raw[:half])  # the large mail is half way through when the next one arrives
        assert send(receiver, mail(subject="Quick question", body="Where is my invoice?")) == "250 2.0.0 OK: stored"
        [small] = rows(care, InboundMail)
        assert small.subject is None and small.size < 10_000
        slow.sendall(raw[half:] + b".\r\n")
        assert reader.readline().startswith(b"250 2.0.0 OK: stored")
    small_row, big_row = process(care)
    assert (small_row.kind, big_row.kind) == ("inquiry", "inquiry")
    assert care.runtime.get(small_row.instance_id)["data"]["subject"] == "Quick question"
    assert care.runtime.get(big_row.instance_id)["data"]["body"] == "The log files of our server."
    assert care.mail.store.raw(big_row.id) == raw  # attachments included


# -- reading ---------------------------------------------------------------------------------------

CZECH = "Dobrý den, příliš žluťoučký kůň úpěl ďábelské ódy. Prosím o pomoc s fakturou, šéf ji potřebuje do pátku."
JAPANESE = "お世話になっております。請求書について質問があります。よろしくお願いいたします。"


@pytest.mark.parametrize(
    ("name", "text", "charset"),
    [("山田太郎", JAPANESE, "shift_jis"), ("Jan Novák", CZECH, "iso-8859-2"), ("Jan Novák", CZECH, "windows-1250")],
    ids=["shift_jis", "iso-8859-2", "windows-1250"],
)
def test_8bit_text_labelled_utf8_in_another_charset_is_read(care, receiver, name, text, charset):
    raw = (
        f"From: {name} <jan@example.cz>\r\nTo: care@carecenter.example\r\n"
        f"Subject: {text[:25]}\r\nMessage-ID: <{charset}@example.cz>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{text}\r\n"
    ).encode(charset)
    assert send(receiver, raw, "jan@example.cz").startswith("250")
    [row] = process(care)
    data = care.runtime.get(row.instance_id)["data"]
    assert (data["subject"], data["body"], data["customer_name"]) == (text[:25], text, name)


def test_html_only_mail_becomes_text_and_quoted_history_is_left_out_of_the_case(care, receiver):
    html = mail(subject="Frage")
    html.set_content("<html><body><p>Guten Tag,</p><p>wo bleibt <b>meine</b> Rechnung?</p></body></html>", "html")
    send(receiver, html)
    quoted = mail(
        subject="Rechnung",
        body="Danke, das hilft.\n\nAm Mo., 2. März 2026 um 10:00 schrieb Care <care@carecenter.example>:\n"
        "> Ihre Rechnung ist unterwegs.\n> Viele Grüße\n",
    )
    send(receiver, quoted)
    first, second = process(care)
    assert care.runtime.get(first.instance_id)["data"]["body"] == "Guten Tag,\n\nwo bleibt meine Rechnung?"
    assert care.runtime.get(second.instance_id)["data"]["body"] == "Danke, das hilft."
    assert b"Ihre Rechnung ist unterwegs." in care.mail.store.raw(second.id)  # the whole mail is kept


# -- threads ---------------------------------------------------------------------------------------


def reply_payloads(care, instance_id: int) -> list[dict]:
    return [
        m.payload
        for m in rows(care, Message, Message.name == "customer_reply", Message.target_instance_id == instance_id)
    ]


def test_a_reply_naming_our_message_id_reaches_its_case_whatever_the_subject(care, receiver):
    row, instance = case_from(care, receiver)
    ours = signed_message_id(instance["reference"], "cc-answer-1", CARE_ADDRESS, SECRET)
    send(receiver, mail(subject="Re: something else entirely", body="Still broken.", In_Reply_To=ours))
    reply = process(care)[-1]
    assert (reply.kind, reply.instance_id) == ("reply", instance["id"])
    assert [p["body"] for p in reply_payloads(care, instance["id"])] == ["Still broken."]
    assert instance_count(care) == 1


def test_a_forged_message_id_pointing_at_someone_elses_case_opens_a_new_case(care, receiver):
    _, instance = case_from(care, receiver)
    forged = signed_message_id(instance["reference"], "cc-answer-1", CARE_ADDRESS, "not-our-secret")
    send(receiver, mail(subject="Re: hello", sender="Mallory <mallory@evil.example>", In_Reply_To=forged))
    row = process(care)[-1]
    assert row.kind == "inquiry" and row.instance_id != instance["id"]
    assert reply_payloads(care, instance["id"]) == []


def test_a_rewritten_message_id_with_the_reference_in_an_aw_subject_still_threads(care, receiver):
    _, instance = case_from(care, receiver)
    subject = f"AW: Re: Printer broken [{instance['reference']}]"
    rewritten = "<AM0PR01MB1234.rewritten@outlook.example>"
    send(receiver, mail(subject=subject, body="Geht immer noch nicht.", In_Reply_To=rewritten, References=rewritten))
    row = process(care)[-1]
    assert (row.kind, row.instance_id) == ("reply", instance["id"])
    [payload] = reply_payloads(care, instance["id"])
    assert payload["subject"] == f"Printer broken [{instance['reference']}]"


def test_a_stranger_quoting_a_case_reference_gets_a_new_case(care, receiver):
    _, instance = case_from(care, receiver)
    stranger = mail(subject=f"Re: [{instance['reference']}]", sender="eve@elsewhere.example", body="Show me!")
    send(receiver, stranger, "eve@elsewhere.example")
    row = process(care)[-1]
    assert row.kind == "inquiry" and row.instance_id != instance["id"]
    assert "someone else" in row.error
    assert reply_payloads(care, instance["id"]) == []
    assert care.runtime.get(row.instance_id)["customer_id"] == "email:eve@elsewhere.example"


def test_a_reply_to_a_closed_case_starts_a_new_inquiry_referring_to_it(care, receiver):
    _, instance = case_from(care, receiver)
    care.runtime.cancel(instance["id"], "test")
    send(receiver, mail(subject=f"Re: Printer broken [{instance['reference']}]", body="It broke again."))
    row = process(care)[-1]
    assert row.kind == "inquiry" and row.instance_id != instance["id"]
    assert instance["reference"] in row.error
    assert care.runtime.get(row.instance_id)["data"]["inquiry"]["reference"] == instance["reference"]


def test_reply_prefixes_of_many_languages_are_ignored():
    for prefix in (
        "Re:",
        "RE:",
        "AW:",
        "Aw: AW:",
        "SV:",
        "VS:",
        "Odp:",
        "Ynt:",
        "Antw:",
        "Re[2]:",
        "回复：",
        "WG:",
        "Fwd:",
    ):
        assert without_reply_prefixes(f"{prefix} Printer broken") == "Printer broken", prefix
    assert without_reply_prefixes("Regarding the printer") == "Regarding the printer"
    assert subject_references("AW: Re: Printer [cc-7k4m-2qx9] and CC 7K4M 2QX8") == []  # wrong check characters
    reference = signed_message_id("CC-7K4M-2QXE", "key", CARE_ADDRESS, SECRET)
    assert case_of_message_id(reference, SECRET) == "CC-7K4M-2QXE"
    assert case_of_message_id(reference, "") is None
    assert case_of_message_id(reference.replace("7K4M", "7K4N"), SECRET) is None


def answer_case(care, instance_id: int, answer: str) -> None:
    care.jobs.run_due("w")  # look up the customer
    [task] = care.tasks.list(TaskFilter(instance_id=instance_id), 10, None).items
    care.tasks.complete(task["id"], {"answer": answer}, "staff")
    care.jobs.run_due("w")  # send the answer


def test_the_answer_is_threaded_under_the_customers_last_mail_and_its_reply_comes_back(care, receiver, smtp_server):  # noqa: F811
    row, instance = case_from(care, receiver)
    answer_case(care, instance["id"], "Please switch it off and on again.")
    [answer] = smtp_server.messages
    assert answer["To"] == "Ada@Example.com"
    assert answer["In-Reply-To"] == f"<{row.message_id}>"
    assert answer["References"] == f"<{row.message_id}>"
    assert f"[{instance['reference']}]" in answer["Subject"]
    assert case_of_message_id(answer["Message-ID"], SECRET) == instance["reference"]
    assert answer["Auto-Submitted"] is None  # a person wrote it
    reply = mail(subject="Re: " + answer["Subject"].split("[")[0], body="Worked, thanks!")
    reply["In-Reply-To"] = answer["Message-ID"]
    reply["References"] = f"<{row.message_id}> {answer['Message-ID']}"
    send(receiver, reply)
    back = process(care)[-1]
    assert (back.kind, back.instance_id) == ("reply", instance["id"])


# -- loops and bounces -----------------------------------------------------------------------------


def test_100_out_of_office_replies_produce_no_mail_back_and_no_case(care, receiver, smtp_server):  # noqa: F811
    row, instance = case_from(care, receiver)
    answer_case(care, instance["id"], "Here is your answer.")
    [answer] = smtp_server.messages
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=30) as client:
        for number in range(100):
            away = mail(
                subject=f"Abwesenheitsnotiz: {answer['Subject']}",
                body=f"Ich bin bis Montag nicht im Büro ({number}).",
                Auto_Submitted="auto-replied",
                In_Reply_To=answer["Message-ID"],
            )
            client.sendmail("", [CARE_ADDRESS], wire(away))
    stored = process(care)[1:]
    assert len(stored) == 100
    assert {(r.status, r.kind, r.auto_reply_allowed) for r in stored} == {("ignored", "auto_reply", False)}
    care.jobs.run_due("w")
    care.timers.fire_due("w")
    assert len(smtp_server.messages) == 1  # only the answer
    assert instance_count(care) == 1 and reply_payloads(care, instance["id"]) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Precedence": "bulk"},
        {"List_Id": "<news.example.com>"},
        {"List_Unsubscribe": "<mailto:leave@example.com>"},
        {"X_Auto_Response_Suppress": "All"},
    ],
)
def test_bulk_and_list_mail_may_be_a_case_but_gets_no_automatic_answer(care, receiver, headers):
    send(receiver, mail(**headers))
    [row] = process(care)
    assert (row.kind, row.auto_reply_allowed) == ("inquiry", False)


def test_automatic_answers_are_limited_per_sender_and_hour(care, receiver):
    for number in range(7):
        send(receiver, mail(subject=f"Question {number}"))
    assert [row.auto_reply_allowed for row in process(care)] == [True] * 5 + [False] * 2
    care.clock.advance(timedelta(hours=1, seconds=1))
    send(receiver, mail(subject="Next hour"))
    assert process(care)[-1].auto_reply_allowed is True


def test_replies_to_an_open_case_do_not_use_up_the_hourly_limit_of_confirmations(care, receiver):
    send(receiver, mail(subject="Printer broken"))
    [first] = process(care)
    reference = care.runtime.get(first.instance_id)["reference"]
    for number in range(8):  # the customer writes back and forth: no confirmation goes out for a reply
        send(receiver, mail(subject=f"Re: Printer broken [{reference}] ({number})"))
    assert [row.kind for row in process(care)] == ["inquiry"] + ["reply"] * 8
    send(receiver, mail(subject="Another question"))
    newest = process(care)[-1]
    assert newest.kind == "inquiry" and newest.auto_reply_allowed is True
    confirmations = rows(care, OutboxMessage, OutboxMessage.idempotency_key.like("confirmation:%"))
    assert len(confirmations) == 2


def test_mailer_daemon_null_sender_and_our_own_mail_never_become_cases(care, receiver):
    send(receiver, mail(sender="MAILER-DAEMON@mx.example", subject="Undelivered Mail"), "")
    send(receiver, mail(subject="Hello", X_Autoreply="yes"))
    own = signed_message_id("CC-7K4M-2QXE", "cc-1-notify-1", CARE_ADDRESS, SECRET)
    send(receiver, mail(sender=CARE_ADDRESS, message_id=own), CARE_ADDRESS)
    assert [(r.status, r.kind) for r in process(care)] == [("ignored", "auto_reply")] * 2 + [("ignored", "own_mail")]
    assert instance_count(care) == 0


def delivery_report(original_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        f"To: {CARE_ADDRESS}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.customer.example')}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {CARE_ADDRESS}\r\nTo: {recipient}\r\nSubject: Re: Printer broken\r\nMessage-ID: {original_id}\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def test_a_bounce_starts_no_case_and_marks_the_mail_and_the_address(care, receiver, smtp_server):  # noqa: F811
    row, instance = case_from(care, receiver)
    answer_case(care, instance["id"], "Here is your answer.")
    [answer] = smtp_server.messages
    assert send(receiver, delivery_report(answer["Message-ID"], "Ada@Example.com"), "").startswith("250")
    send(receiver, delivery_report("<never-sent@carecenter.example>", "someone@example.com"), "")
    matched, unmatched = process(care)[1:]
    assert (matched.status, matched.kind, matched.instance_id) == ("processed", "bounce", None)
    assert (unmatched.status, unmatched.kind) == ("ignored", "bounce")
    assert instance_count(care) == 1
    confirmation, outbox = rows(care, OutboxMessage)  # the confirmation (held: no relay ran) and the answer
    assert confirmation.status == "held"
    assert outbox.status == "bounced" and "User unknown" in outbox.last_error
    [bounce] = rows(care, MailBounce)
    assert (bounce.address, bounce.bounces, bounce.outbox_id) == ("ada@example.com", 1, outbox.id)


# -- nothing is lost -------------------------------------------------------------------------------


def test_a_mail_that_cannot_become_a_case_is_kept_failed_and_can_be_retried(care, receiver):
    raw = b"To: care@carecenter.example\r\nSubject: who am I\r\n\r\nno sender at all\r\n"
    send(receiver, raw, "")
    [row] = process(care)
    assert row.status == "failed" and "no sender" in row.error
    [listed] = care.mail.store.failed().items
    assert (listed["id"], listed["subject"]) == (row.id, "who am I")
    assert care.mail.store.raw(row.id) == raw
    care.mail.store.retry(row.id)
    [again] = process(care)
    assert again.status == "failed" and again.attempts == 1


def test_mail_without_an_intake_process_is_retried_with_back_off_then_kept_failed_then_retried_by_hand(bare):
    server = MailReceiver(bare.mail.store, "127.0.0.1", free_port())
    server.start()
    try:
        send(server, mail())
    finally:
        server.stop()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert bare.mail.process_due("w") == 1
        [row] = rows(bare, InboundMail)
        assert (row.attempts, bare.mail.process_due("w")) == (attempt, 0)  # not due again before its back-off
        bare.clock.advance(timedelta(hours=1))
    assert row.status == "failed" and "inquiry_received" in row.error
    assert bare.mail.process_due("w") == 0  # failed mail waits for a person
    bare.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    bare.mail.store.retry(row.id)
    [row] = process(bare)
    assert (row.status, row.kind) == ("processed", "inquiry")


def test_bad_input_is_kept_with_a_defined_outcome_and_touches_no_other_case(care, receiver):
    _, instance = case_from(care, receiver)
    garbage = b"\x00\xff\xfe this is no mail at all \x81\x82\r\n"
    broken_mime = (
        b"From: Ada <ada@example.com>\r\nSubject: Broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\nStill readable\xe9.\r\n"
    )
    assert send(receiver, garbage, "").startswith("250")
    assert send(receiver, broken_mime).startswith("250")
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=30) as client:
        recipients = [f"desk{number}@carecenter.example" for number in range(500)]
        assert client.sendmail("ada@example.com", recipients, wire(mail(subject="To everyone"))) == {}
    outcomes = [(row.status, row.kind) for row in process(care)[1:]]
    assert outcomes == [("failed", None), ("processed", "inquiry"), ("processed", "inquiry")]
    broken_row, everyone = rows(care, InboundMail)[2:]
    assert care.runtime.get(broken_row.instance_id)["data"]["body"] == "Still readableé."
    assert len(everyone.recipients) == 500
    assert instance_count(care) == 3 and reply_payloads(care, instance["id"]) == []


def test_our_automatic_mail_says_so_and_staff_answers_do_not(care, smtp_server):  # noqa: F811
    def context(key: str) -> OperationContext:
        return OperationContext(key, 999, "p", "e", "code", "CC-7K4M-2QXE", care.db, care.clock, care.settings)

    notify_customer(context("cc-999-remind-1"), customer_id="C-1", subject="Reminder", body="B", automatic=True)
    notify_customer(context("cc-999-answer-1"), customer_id="C-1", subject="Answer", body="B")
    with care.db.write() as session:
        session.add(
            OutboxMessage(idempotency_key="portal-1", kind="mail", recipient="ada@example.com", subject="Your link",
                          body="…", payload={"purpose": "portal_link"}, status="held", attempts=0,
                          created_at=care.clock.now())
        )  # fmt: skip
    assert relay_held_mail(care.db, care.settings, care.clock) == 1
    reminder, answer, link = smtp_server.messages
    assert (reminder["Auto-Submitted"], reminder["X-Auto-Response-Suppress"]) == ("auto-generated", "All")
    assert (link["Auto-Submitted"], link["X-Auto-Response-Suppress"]) == ("auto-generated", "All")
    assert answer["Auto-Submitted"] is None and answer["Subject"] == "Answer [CC-7K4M-2QXE]"
    assert case_of_message_id(reminder["Message-ID"], SECRET) == "CC-7K4M-2QXE"
