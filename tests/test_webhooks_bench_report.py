"""The webhooks section of the benchmark report: goals judged from a results folder alone (no speed asserted here)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib", reason="the bench extra (make bench-smoke installs it) is not installed")

from bench import report  # noqa: E402

RUN = {
    "events": 10000,
    "endpoints": 3,
    "workers": 2,
    "cases": 1000,
    "deliveries_expected": 30000,
    "requests": 30004,
    "repeats": 4,
    "bad_signatures": 0,
    "deliveries_per_s": 180.0,
    "wall_seconds": 170.0,
    "lost": 0,
    "out_of_order_cases": 0,
}


def test_the_webhooks_section_says_which_goals_were_met(tmp_path):
    goals = {"deliveries_per_s": 200, "lost": 0, "out_of_order_cases": 0}
    (tmp_path / "webhooks.json").write_text(json.dumps({"backend": "postgresql", "run": RUN, "goals": goals}))
    section = report.render(tmp_path, tmp_path / "BENCHMARKS.md").split("## 9. Webhooks", 1)[1]
    assert "| 30,000 | 30,004 | 4 | 0 | 180 (**missed**) | 170.0 | 0 | 0 (met) |" in section


def test_a_run_without_webhook_results_says_so(tmp_path):
    assert "## 9. Webhooks\n\n_No results for this section in this run._" in report.render(tmp_path, tmp_path / "B.md")
