"""Bearer tokens on every non-public route: unknown, revoked and expired tokens are refused."""

from datetime import timedelta

import pytest


def test_public_routes_need_no_token(anonymous):
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize("header", ["Bearer nope", "Basic abc", "Bearer ", "token"])
def test_bad_credentials_are_401(anonymous, header):
    assert anonymous.get("/api/tasks", headers={"Authorization": header}).status_code == 401


def test_revoked_and_expired_tokens_are_refused(anonymous, care, clock):
    row, value = care.tokens.create("short", expires_at=clock.now() + timedelta(hours=1))
    headers = {"Authorization": f"Bearer {value}"}
    assert anonymous.get("/api/tasks", headers=headers).status_code == 200
    clock.advance("PT2H")
    assert anonymous.get("/api/tasks", headers=headers).status_code == 401
    other, other_value = care.tokens.create("other")
    care.tokens.revoke(other.id)
    assert anonymous.get("/api/tasks", headers={"Authorization": f"Bearer {other_value}"}).status_code == 401


def test_tokens_are_stored_hashed_and_use_is_recorded(anonymous, care):
    row, value = care.tokens.create("ops")
    assert value.startswith("cc_") and len(value) > 40
    [stored] = [t for t in care.tokens.list() if t.id == row.id]
    assert value not in stored.token_hash and stored.last_used_at is None
    anonymous.get("/api/tasks", headers={"Authorization": f"Bearer {value}"})
    [stored] = [t for t in care.tokens.list() if t.id == row.id]
    assert stored.last_used_at is not None


def test_errors_never_leak_internals(client, app):
    @app.get("/api/boom")
    def boom():
        raise RuntimeError("SELECT secret FROM somewhere")

    response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert "SELECT" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
