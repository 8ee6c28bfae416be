"""Admins manage users, groups and tokens over the API; token values are shown once."""


def test_groups_and_users(client):
    assert client.post("/api/groups", json={"name": "support", "description": "First line"}).status_code == 201
    assert client.post("/api/groups", json={"name": "support"}).status_code == 409
    assert client.post("/api/groups", json={"name": "Bad Name!"}).status_code == 400
    created = client.post(
        "/api/users", json={"username": "sam", "role": "staff", "groups": ["support"], "password": "long enough pw"}
    )
    assert created.status_code == 201
    assert created.json == {
        "id": created.json["id"],
        "username": "sam",
        "display_name": "sam",
        "role": "staff",
        "groups": ["support"],
        "disabled": False,
        "has_password": True,
    }
    assert client.post("/api/users", json={"username": "sam", "role": "staff"}).status_code == 409
    assert client.post("/api/users", json={"username": "x", "role": "king"}).status_code == 400
    # well-formed, but not to be done: 422
    assert client.post("/api/users", json={"username": "y", "role": "staff", "groups": ["nope"]}).status_code == 422
    assert (
        client.post(
            "/api/users", json={"username": "z", "role": "integration", "password": "long enough pw"}
        ).status_code
        == 422
    )
    user_id = created.json["id"]
    updated = client.patch(f"/api/users/{user_id}", json={"role": "designer", "groups": [], "disabled": True})
    assert (updated.json["role"], updated.json["groups"], updated.json["disabled"]) == ("designer", [], True)
    assert client.patch(f"/api/users/{user_id}", json={"disabled": "yes"}).status_code == 400
    assert client.get("/api/users/9999").status_code == 404
    assert [u["username"] for u in client.get("/api/users").json["items"]] == ["sam"]
    assert [g["name"] for g in client.get("/api/groups").json["items"]] == ["support"]


def test_tokens_are_shown_once_and_revocable(client, anonymous):
    client.post("/api/users", json={"username": "mailgw", "role": "integration"})
    created = client.post("/api/tokens", json={"name": "mail gateway", "username": "mailgw"})
    assert created.status_code == 201
    value = created.json["token"]
    assert created.json["role"] == "integration"
    listed = client.get("/api/tokens").json["items"]
    assert all("token" not in item for item in listed)
    assert value not in client.get("/api/tokens").get_data(as_text=True)
    headers = {"Authorization": f"Bearer {value}"}
    assert anonymous.get("/api/tasks", headers=headers).status_code == 403  # integration: authenticated, not allowed
    revoked = client.post(f"/api/tokens/{created.json['id']}/revoke")
    assert revoked.json["revoked_at"] is not None
    assert anonymous.get("/api/tasks", headers=headers).status_code == 401


def test_token_input_is_checked(client):
    assert client.post("/api/tokens", json={}).status_code == 400
    assert client.post("/api/tokens", json={"name": "t", "expires_at": "tomorrow"}).status_code == 400
    assert client.post("/api/tokens", json={"name": "t", "expires_at": "2030-01-01T00:00:00"}).status_code == 400
    assert client.post("/api/tokens", json={"name": "t", "expires_at": "2001-01-01T00:00:00+00:00"}).status_code == 422
    assert client.post("/api/tokens", json={"name": "t", "username": "ghost"}).status_code == 404
    ok = client.post("/api/tokens", json={"name": "t", "expires_at": "2099-01-01T00:00:00+00:00"})
    assert ok.status_code == 201 and ok.json["expires_at"].startswith("2099-01-01")
