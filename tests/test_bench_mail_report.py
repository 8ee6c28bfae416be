"""The mail section of the benchmark report: goals judged from a results folder alone (no speed asserted here)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib", reason="the bench extra (make bench-smoke installs it) is not installed")

from bench import report  # noqa: E402

RUN = {
    "mails": 1000,
    "connections": 4,
    "acknowledged": 1000,
    "stored_before_worker": 1000,
    "receive_mails_per_s": 250.0,
    "processed": 1000,
    "process_mails_per_s": 12.5,
    "process_wall_seconds": 90.0,
    "lost": 0,
    "twice": 0,
}


def test_the_mail_section_says_which_goals_were_met(tmp_path):
    goals = {"receive_mails_per_s": 200, "process_mails_per_s": 20, "lost": 0, "twice": 0}
    (tmp_path / "mail.json").write_text(json.dumps({"backend": "postgresql", "run": RUN, "goals": goals}))
    text = report.render(tmp_path, tmp_path / "BENCHMARKS.md")
    section = text.split("## 8. Mail", 1)[1]
    assert "| 1,000 | 1,000 | 1,000 | 250 (met) | 1,000 | 12.5 (**missed**) | 90.0 | 0 | 0 (met) |" in section


def test_a_run_without_mail_results_says_so(tmp_path):
    assert "## 8. Mail\n\n_No results for this section in this run._" in report.render(tmp_path, tmp_path / "B.md")
