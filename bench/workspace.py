"""Section 7: the staff search and the customer page on a nearly empty database and on one of 100,000 cases and
20,000 customers.

A staff member of one of four teams searches the way staff do on the phone: a customer's name, the
beginning of one, a case reference (as printed, or typed in lower case without dashes), a phone
number written differently from how it is stored, and two words of a subject. Requests go through
the Flask test client (the whole page: policy, query, template), sequentially, on PostgreSQL; the
data comes from :mod:`bench.workspace_seed`.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from api.app import create_app
from bench import workspace_seed
from bench.common import database, engine_for, percentiles
from bench.workspace_seed import SeededCase, SeededCustomer

PASSWORD = "bench search password"
GOALS = {"p95_ms": 50, "loaded_to_empty": 1.2}
PAGE_GOALS = {"p95_ms": 100, "loaded_to_empty": 1.2}  # the customer page: who they are, requests, contacts, notes


def name(rng: random.Random, customers: list[SeededCustomer], cases: list[SeededCase]) -> str:
    return rng.choice(customers).name


def name_prefix(rng: random.Random, customers: list[SeededCustomer], cases: list[SeededCase]) -> str:
    """What someone types before the list narrows: the first letters of the last word (and the first name)."""
    words = rng.choice(customers).name.split()
    return f"{words[0]} {words[-1][:4]}" if rng.random() < 0.5 else words[-1][:4]


def reference(rng: random.Random, customers: list[SeededCustomer], cases: list[SeededCase]) -> str:
    typed = rng.choice(cases).reference
    return typed.lower().replace("-", "") if rng.random() < 0.5 else typed


def phone(rng: random.Random, customers: list[SeededCustomer], cases: list[SeededCase]) -> str:
    """The number as the caller's display shows it (+<digits>) or read out with spaces: never as stored."""
    digits = rng.choice(customers).phone_digits
    return f"+{digits}" if rng.random() < 0.5 else " ".join(re.findall(r"\d{1,3}", digits))


def subject_words(rng: random.Random, customers: list[SeededCustomer], cases: list[SeededCase]) -> str:
    words = rng.choice(cases).subject.split()
    return f"{words[0]} {words[-1]}".lower()


QUERIES: dict[str, Callable[[random.Random, list, list], str]] = {
    "name": name,
    "name_prefix": name_prefix,
    "reference": reference,
    "phone": phone,
    "subject_words": subject_words,
}


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"the benchmark user could not sign in: HTTP {response.status_code}")
    return client


def measure(client, customers: list, cases: list, samples: int, rng: random.Random) -> dict[str, list[float]]:
    """Latency in ms of ``samples`` searches per kind of query, after a warm-up search of each kind."""
    timings: dict[str, list[float]] = {}
    for kind, make in QUERIES.items():
        client.get("/search", query_string={"q": make(rng, customers, cases)})
        for _ in range(samples):
            query = make(rng, customers, cases)
            began = time.perf_counter()
            response = client.get("/search", query_string={"q": query})
            timings.setdefault(kind, []).append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"search for {query!r}: HTTP {response.status_code}")
    return timings


def measure_customer_page(client, customers: list, samples: int, rng: random.Random) -> list[float]:
    """Latency in ms of opening ``samples`` random customers' pages (``/customers/<id>``), after one warm-up."""
    client.get(f"/customers/{rng.choice(customers).id}")
    timings = []
    for _ in range(samples):
        customer = rng.choice(customers)
        began = time.perf_counter()
        response = client.get(f"/customers/{customer.id}")
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"customer page of {customer.id}: HTTP {response.status_code}")
    return timings


def prepare(url: str, customers: int, cases: int, rng: random.Random):
    """A staff member of the support team on a database seeded with ``customers`` and ``cases``."""
    care = engine_for(url)
    for team in workspace_seed.TEAMS:
        care.identity.add_group(team)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    began = time.perf_counter()
    seeded = workspace_seed.seed(care, customers, cases, rng)
    return care, seeded, signed_in(create_app(care), "sam"), time.perf_counter() - began


def run(smoke: bool) -> dict:
    """Both databases side by side, measured in alternating rounds: the machine's drift hits both alike."""
    empty_sizes = (20, 100) if smoke else (100, 500)  # customers, cases
    loaded_sizes = (200, 1000) if smoke else (20_000, 100_000)
    samples, rounds = (10, 2) if smoke else (200, 4)
    rng = random.Random(2026)
    timings: dict[str, dict[str, list[float]]] = {"empty": {}, "loaded": {}}
    page_timings: dict[str, list[float]] = {"empty": [], "loaded": []}
    with database("postgresql") as empty_url, database("postgresql") as loaded_url:
        empty = prepare(empty_url, *empty_sizes, rng)
        loaded = prepare(loaded_url, *loaded_sizes, rng)
        for _ in range(rounds):
            for state, (_care, seeded, client, _seconds) in (("empty", empty), ("loaded", loaded)):
                for kind, values in measure(client, seeded.customers, seeded.cases, samples // rounds, rng).items():
                    timings[state].setdefault(kind, []).extend(values)
                page_timings[state] += measure_customer_page(client, seeded.customers, samples // rounds, rng)
        for care, *_ in (empty, loaded):
            care.close()
    figures = {
        state: {**{kind: percentiles(v) for kind, v in kinds.items()}, "all": percentiles(sum(kinds.values(), []))}
        for state, kinds in timings.items()
    }
    return {
        "backend": "postgresql",
        "transport": "Flask test client, in process, signed in as staff of one of four teams",
        "empty": {"customers": empty_sizes[0], "cases": empty_sizes[1]},
        "loaded": {"customers": loaded_sizes[0], "cases": loaded_sizes[1]},
        "open_share": 0.1,
        "load_seconds": loaded[3],
        "samples_per_query_kind": samples,
        "rounds": rounds,
        "queries": [
            {
                "query": kind,
                "empty": figures["empty"][kind],
                "loaded": figures["loaded"][kind],
                "p95_ratio": figures["loaded"][kind]["p95"] / figures["empty"][kind]["p95"],
            }
            for kind in [*QUERIES, "all"]
        ],
        "goals": GOALS,
        "pages": [
            {
                "page": "customer_page",
                "empty": percentiles(page_timings["empty"]),
                "loaded": percentiles(page_timings["loaded"]),
                "p95_ratio": percentiles(page_timings["loaded"])["p95"] / percentiles(page_timings["empty"])["p95"],
            }
        ],
        "page_goals": PAGE_GOALS,
    }
