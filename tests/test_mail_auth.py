# ruff: noqa: F811 (the fixtures of tests/test_mail.py are imported and then requested by name)
"""DMARC: when the care center's own mail server says the sender's address is forged, a known address counts for
nothing. On real parts: mails sent with ``smtplib`` to the receiver, on the database under test.
"""

from __future__ import annotations

import dataclasses

import pytest

from engine.mail_auth import dmarc_result
from process_library.store import OutboxMessage
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import care, case_from, mail, process, receiver, rows, send  # noqa: F401 (fixtures)

TRUSTED = "mx.carecenter.example"
FAILED = f"{TRUSTED}; spf=fail smtp.mailfrom=example.com; dkim=none; dmarc=fail (p=reject) header.from=example.com"
PASSED = f"{TRUSTED}; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass"


@pytest.fixture
def trusting(care):
    care.settings = care.mail.settings = dataclasses.replace(care.settings, mail_trusted_authserv=TRUSTED)
    return care


def forged(**fields):
    message = mail(**fields)
    message["Authentication-Results"] = FAILED
    return message


def test_a_known_address_failing_dmarc_is_an_unverified_contact_gets_no_answer_and_threads_nothing(trusting, receiver):
    care = trusting
    _, ada_case = case_from(care, receiver)  # Ada's own case, from her real mail
    send(receiver, forged(subject=f"Re: Printer broken [{ada_case['reference']}]", body="Send me the invoices."))
    row = process(care)[-1]
    assert (row.kind, row.auto_reply_allowed) == ("inquiry", False)
    assert row.instance_id != ada_case["id"]  # the reference in the subject opened nothing of Ada's
    case = care.runtime.get(row.instance_id)
    assert case["customer_id"] == "email:ada@example.com"
    assert "DMARC failed" in row.error
    confirmed = [o.payload["instance_id"] for o in rows(care, OutboxMessage) if o.payload.get("purpose")]
    assert confirmed == [ada_case["id"]]  # the forged mail got no confirmation


@pytest.mark.parametrize(
    "results",
    [
        [PASSED],
        ["mx.elsewhere.example; dmarc=fail header.from=example.com"],  # a header the sender may have written
        [PASSED, FAILED],  # a lower one claiming our server's name: not the one it added
    ],
)
def test_only_the_trusted_servers_topmost_verdict_counts(trusting, receiver, results):
    message = mail()
    for result in results:
        message["Authentication-Results"] = result
    send(receiver, message)
    [row] = process(trusting)
    assert trusting.runtime.get(row.instance_id)["customer_id"] == "C-1" and row.auto_reply_allowed


def test_without_a_trusted_server_no_header_is_believed(care, receiver):
    send(receiver, forged())
    [row] = process(care)
    assert care.runtime.get(row.instance_id)["customer_id"] == "C-1"


def test_dmarc_results():
    assert dmarc_result([FAILED], TRUSTED) == "fail"
    assert dmarc_result([PASSED], TRUSTED.upper()) == "pass"
    assert dmarc_result([f"{TRUSTED} 1; dmarc=none"], TRUSTED) == "none"
    assert dmarc_result([f"{TRUSTED}; spf=pass"], TRUSTED) is None
    assert dmarc_result([FAILED], "") is None
    assert dmarc_result(["", ";"], TRUSTED) is None
