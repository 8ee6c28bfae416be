"""The benchmark report generator turns a results folder into BENCHMARKS.md text and plots (no speed asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the bench extra (make bench-smoke installs it) is not installed")

from bench import report  # noqa: E402
from bench.size import loglog_exponent  # noqa: E402

PERCENTILES = {"p50": 10.0, "p95": 18.0, "p99": 19.0, "max": 25.0, "n": 5}
PADDED = {"p50": 60.0, "p95": 68.0, "p99": 69.0, "max": 75.0, "n": 5}


def write(folder: Path, name: str, data: dict) -> None:
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_report_shows_goals_and_padded_lookups_and_draws_plots(tmp_path):
    write(
        tmp_path,
        "overhead",
        {
            "bare_instances_per_s": 400.0,
            "goal_ratio": 0.5,
            "full_stack": [{"backend": "sqlite", "clients": 1, "instances_per_s": 100.0, "ratio_to_bare": 0.25}],
        },
    )
    write(
        tmp_path,
        "size",
        {
            "backend": "postgresql",
            "transport": "in process",
            "goal_exponent": 1.0,
            "exponent_complete": 0.4,
            "exponent_bytes": 1.3,
            "sizes": [
                {"tasks": 10, "start_ms": 1.0, "complete_ms": 2.0, "state_bytes": 1000},
                {"tasks": 100, "start_ms": 5.0, "complete_ms": 4.0, "state_bytes": 20000},
            ],
        },
    )
    write(
        tmp_path,
        "scale",
        {
            "backend": "postgresql",
            "transport": "HTTP",
            "completed_instances": 10,
            "open_instances": 1,
            "load_seconds": 1.0,
            "count_seconds": 2.0,
            "samples_per_operation": 5,
            "rounds": 2,
            "goals": {"read_p95_ms": 20, "loaded_to_empty": 1.2},
            "operations": [
                {"operation": "one_task", "kind": "read", "empty": PERCENTILES, "loaded": PERCENTILES, "p95_ratio": 1},
                {
                    "operation": "customer_status_api",
                    "kind": "read",
                    "empty": PADDED,
                    "loaded": PADDED,
                    "p95_ratio": 1,
                    "floor_ms": 50.0,
                },
            ],
            "memory": {
                "serve_empty_kib": 1024,
                "serve_loaded_kib": 2048,
                "worker_empty_kib": 1024,
                "worker_loaded_kib": 1024,
            },
        },
    )
    target = tmp_path / "BENCHMARKS.md"

    text = report.write(tmp_path, target).read_text()

    assert "| sqlite | 1 | 100.0 | 0.250 | **missed** |" in text
    assert "completing a task **0.40** (met), stored bytes **1.30** (**missed**)" in text
    assert "| one_task (read) | 10.0 / 18.0 / 19.0 | 10.0 / 18.0 / 19.0 | 1.00 | met |" in text
    assert (
        "| customer_status_api (read, padded to 50 ms) | 60.0 / 68.0 / 69.0 | 60.0 / 68.0 / 69.0 | 1.00 | met |" in text
    )
    assert "| carecenter serve | 1.0 | 2.0 | 2.000 |" in text
    assert "## 3. Timers\n\n_No results for this section in this run._" in text
    assert "![overhead](overhead.png)" in text
    for plot in ("overhead", "size", "scale"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 0


def test_loglog_exponent_recovers_the_power():
    xs = [10, 100, 300, 1000]
    assert loglog_exponent(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert loglog_exponent(xs, [x**2 for x in xs]) == pytest.approx(2.0)


def test_the_workspace_section_judges_each_kind_of_query(tmp_path):
    fast = {"p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 40.0, "n": 5}
    slow = {**fast, "p95": 60.0}
    write(
        tmp_path,
        "workspace",
        {
            "backend": "postgresql",
            "transport": "Flask test client",
            "empty": {"customers": 100, "cases": 500},
            "loaded": {"customers": 20000, "cases": 100000},
            "open_share": 0.1,
            "load_seconds": 100.0,
            "samples_per_query_kind": 5,
            "rounds": 1,
            "goals": {"p95_ms": 50, "loaded_to_empty": 1.2},
            "queries": [
                {"query": "phone", "empty": fast, "loaded": fast, "p95_ratio": 1.0},
                {"query": "name_prefix", "empty": fast, "loaded": slow, "p95_ratio": 3.0},
            ],
        },
    )
    text = report.write(tmp_path, tmp_path / "BENCHMARKS.md").read_text()
    assert "| phone | 10.0 / 20.0 / 30.0 | 10.0 / 20.0 / 30.0 | 1.00 | met |" in text
    assert "| name prefix | 10.0 / 20.0 / 30.0 | 10.0 / 60.0 / 30.0 | 3.00 | **missed** |" in text
    assert "100,000 cases" in text and (tmp_path / "workspace.png").stat().st_size > 0


def test_the_ceiling_of_two_processes_follows_from_the_cpu_time():
    from bench.web_processes import ceiling_ratio

    assert ceiling_ratio({"server": 30.0, "database": 0.0, "clients": 0.0}, 2) == pytest.approx(2.0)
    # 2 cores for 30 + 10 + 0 ms: two processes at most 50/s, one at most 33.3/s (the GIL)
    assert ceiling_ratio({"server": 30.0, "database": 10.0, "clients": 0.0}, 2) == pytest.approx(1.5)
    assert ceiling_ratio({"server": 30.0, "database": 10.0, "clients": 0.0}, 1) == pytest.approx(1.0)


def test_the_token_check_and_web_processes_sections_show_before_after_and_the_ratio(tmp_path):
    row = {"before_statements": 3.0, "after_statements": 0.002, "before_us": 2500.0, "after_us": 2.0}
    write(
        tmp_path,
        "auth",
        {"what": "a token", "repeat": 10, "cache_seconds": 1.0, "rows": [{"backend": "sqlite", "case": "next", **row}]},
    )
    web = {"lifecycles": 60, "seconds": 3.0, "per_round_instances_per_s": [20.0]}
    cpu = {"server": 24.0, "database": 3.0, "clients": 1.0}
    write(
        tmp_path,
        "web_processes",
        {
            "backend": "postgresql",
            "clients": 4,
            "rounds": 1,
            "lifecycles_per_client_and_round": 15,
            "cores": 2,
            "load_average_at_start": [1.0, 1.0, 1.0],
            "load_average_at_end": [2.0, 1.0, 1.0],
            "goal_ratio": 1.6,
            "ratio_two_to_one": 1.5,
            "ceiling_ratio": 1.55,
            "cores_for_two_busy_processes": [1.9, 0.95],
            "rows": [
                {"server": "gunicorn, 1 process", "processes": 1, "instances_per_s": 20.0, **web},
                {
                    "server": "gunicorn, 2 processes",
                    "processes": 2,
                    "instances_per_s": 30.0,
                    "cpu_ms_per_lifecycle": cpu,
                    **web,
                },
            ],
        },
    )
    text = report.render(tmp_path, tmp_path / "BENCHMARKS.md")
    assert "| sqlite | next | 3.00 | 0.002 | 2500 | 2 |" in text
    assert "| gunicorn, 2 processes | 2 | 60 | 30.0 | 20.0 | 24.0 / 3.0 / 1.0 | 0.72 |" in text
    assert "2 processes / 1 process: **1.50** (**missed**)." in text
    assert "otherwise idle cores shared with the database and the clients" in text and "1.55 ×" in text
    assert "got 1.90 cores of the machine just before the rounds and 0.95 just after" in text
    assert (tmp_path / "web_processes.png").stat().st_size > 0


def test_overhead_rows_measured_in_turns_with_the_bare_library_show_that_figure(tmp_path):
    row = {"backend": "postgresql", "clients": 8, "instances_per_s": 90.0, "ratio_to_bare": 0.3}
    paired = row | {"bare_instances_per_s": 300.0, "rounds": 6}
    data = {"bare_instances_per_s": 350.0, "goal_ratio": 0.5, "full_stack": [paired]}
    text = report.overhead_section(data, tmp_path)
    assert "| backend | clients | instances/s | bare, same minutes | rounds | ratio to bare | goal |" in text
    assert "| postgresql | 8 | 90.0 | 300 | 6 | 0.300 | **missed** |" in text
    assert "measured in turns with it" in text


def test_the_statement_counts_show_the_round_trips_beside_them(tmp_path):
    row = {"backend": "postgresql", "clients": 1, "instances_per_s": 40.0, "ratio_to_bare": 0.12}
    counts = {"before": [14, 18, 13], "now": [11, 10, 7], "round_trips": [6, 3, 2]}
    older = {"before": [14, 18, 15], "now": [11, 10, 7]}  # a result written before round trips were counted
    data = {
        "bare_instances_per_s": 330.0,
        "goal_ratio": 0.5,
        "full_stack": [row],
        "statements": {"postgresql": counts, "sqlite": older},
        "goal_statements": 12,
    }
    text = report.overhead_section(data, tmp_path)
    assert "| postgresql | 14 / 18 / 13 = 45 | 11 / 10 / 7 = 28 | **missed** | 6 / 3 / 2 = 11 |" in text
    assert "| sqlite | 14 / 18 / 15 = 47 | 11 / 10 / 7 = 28 | **missed** | not counted |" in text
