"""Request input the API refuses cleanly, among them every request with which the fuzzer made it answer 500.

Each crash found by tests/test_schema_fuzz.py stands here as the concrete request, so it cannot
come back even when the fuzzer's examples change. They run on SQLite and, in CI, on PostgreSQL,
where several of them failed only.
"""

from __future__ import annotations

import re

import pytest

from api.requests import numbers_up_to
from engine.models import MAX_ID

PROBLEM = "application/problem+json"


def refused(response, status: int, problem_type: str) -> str:
    assert (response.status_code, response.mimetype) == (status, PROBLEM), response.get_data(as_text=True)
    assert response.json["type"] == problem_type
    return response.json["detail"]


# -- crashes found by the fuzzer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/tasks/83534094914087062471233749873852416/claim"),
        ("get", f"/api/instances/{MAX_ID + 1}"),
        ("patch", f"/api/users/{MAX_ID + 1}"),  # was 405: the GET rule matched the path, PATCH refused the value
        ("post", "/api/incidents/0/retry"),
    ],
)
def test_ids_out_of_the_column_range_are_not_found(client, method, path):
    refused(getattr(client, method)(path, json={}), 404, "/problems/not-found")


def test_the_id_pattern_takes_exactly_1_to_the_limit():
    pattern = re.compile(f"(?:{numbers_up_to(MAX_ID)})")
    for number in (1, 9, 10, 99, 1_000_000_000, 1_999_999_999, 2_000_000_000, MAX_ID - 1, MAX_ID):
        assert pattern.fullmatch(str(number)), number
    for text in ("0", "007", str(MAX_ID + 1), "2147483650", "2200000000", "9999999999", "10000000000", "-1"):
        assert not pattern.fullmatch(text), text
