"""The webhook pages under administration through the Flask test client: register (secret once), list, act."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import WebhookDelivery
from engine.runtime import StartRequest
from engine.webhooks import WebhookConfig
from tests.conftest import make_engine, source
from tests.test_admin_pages import PASSWORD, field_error, flashes, sign_in, text
from tests.webhook_receiver import Receiver

SECRET = r'<textarea id="new-secret" class="token-value"[^>]*>(whsec_[^<]+)</textarea>'


@pytest.fixture
def care(database_url, clock):
    engine = make_engine(database_url, clock)
    engine.identity.add_user("ada", "admin", password=PASSWORD)
    engine.identity.add_user("sam", "staff", [], password=PASSWORD)
    engine.repository.deploy([source("hello_care.bpmn")], "test", "test")
    engine.webhooks.config = engine.deliveries.config = WebhookConfig(allow_private=True)
    yield engine
    engine.close()


@pytest.fixture
def site(care):
    from api.app import create_app

    return create_app(care).test_client()


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def test_staff_get_the_403_page_and_no_menu_entry(site):
    token = sign_in(site, "sam")
    assert site.get("/admin/webhooks").status_code == 403
    assert site.post("/admin/webhooks", data={"csrf_token": token, "url": "https://x.example"}).status_code == 403
    assert 'href="/admin/webhooks"' not in text(site.get("/"))


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(care, site, receiver):
    token = sign_in(site, "ada")
    assert 'href="/admin/webhooks"' in text(site.get("/"))
    answer = site.post(
        "/admin/webhooks",
        data={
            "csrf_token": token,
            "url": receiver.url("/a"),
            "description": "Data warehouse",
            "which": "chosen",
            "types": ["instance.started", "task.created"],
            "own_types": "order.shipped",
        },
    )
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    secret = re.search(SECRET, text(answer)).group(1)
    (endpoint,) = care.webhooks.list()
    assert endpoint["events"] == ["instance.started", "task.created", "order.shipped"]
    listed = text(site.get("/admin/webhooks"))
    assert receiver.url("/a") in listed and "Data warehouse" in listed and secret not in listed
    receiver.secrets["/a"] = secret
    care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}), "sam")
    care.deliveries.run_due("w1")
    assert [r.verified for r in receiver.at("/a")] == [True, True]  # the secret shown is the one that signs
    page = text(site.get(f"/admin/webhooks/{endpoint['id']}"))
    assert page.count('class="delivery-delivered"') == 2 and "HTTP 200" in page and "thanks" in page
    with care.db.read() as session:
        first = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    sent = site.post(f"/admin/webhook-deliveries/{first.id}/resend", data={"csrf_token": token, "back": "/x"})
    assert sent.status_code == 302 and sent.headers["Location"] == "/x"
    care.deliveries.run_due("w1")
    assert len(receiver.at("/a")) == 3
    site.post(f"/admin/webhooks/{endpoint['id']}/disable", data={"csrf_token": token})
    assert "nothing more is sent" in " ".join(flashes(text(site.get(f"/admin/webhooks/{endpoint['id']}"))))
    assert care.webhooks.get(endpoint["id"])["status"] == "disabled"
    site.post(f"/admin/webhooks/{endpoint['id']}/enable", data={"csrf_token": token})
    assert care.webhooks.get(endpoint["id"])["status"] == "active"
    site.post(f"/admin/webhooks/{endpoint['id']}/delete", data={"csrf_token": token})
    assert care.webhooks.list() == []


def test_bad_input_is_shown_at_its_field_and_registers_nothing(care, site):
    token = sign_in(site, "ada")
    empty = site.post("/admin/webhooks", data={"csrf_token": token, "url": "", "which": "chosen"})
    assert empty.status_code == 422
    assert field_error(text(empty), "url") and field_error(text(empty), "types")
    care.webhooks.config = WebhookConfig()
    private = site.post("/admin/webhooks", data={"csrf_token": token, "url": "http://127.0.0.1:8/x", "which": "all"})
    assert private.status_code == 422 and "loopback or private" in field_error(text(private), "url")
    own = site.post(
        "/admin/webhooks",
        data={"csrf_token": token, "url": "https://hooks.example/x", "which": "chosen", "own_types": "Not A Name"},
    )
    assert own.status_code == 422 and "no event type" in field_error(text(own), "own_types")
    assert site.post("/admin/webhooks", data={"url": "https://hooks.example/x"}).status_code in (400, 403)
    assert care.webhooks.list() == []
