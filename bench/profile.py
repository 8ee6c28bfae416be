"""Section 6: where the time of the worst figure goes, the full-stack lifecycle against the bare library.

The lifecycle runs in process through the Flask app (the same request code as behind waitress)
on PostgreSQL under pyinstrument; the report lists self time by area (SQLAlchemy, the database
driver, SpiffWorkflow, serialization, Flask, carecenter) and the hottest functions.  The text
profile is written next to the results as profile.txt.
"""

from __future__ import annotations

from collections import Counter

from pyinstrument import Profiler

from api.app import create_app
from bench.common import database, deploy, engine_for

PROCESS = "inquiry_lifecycle"
AREAS = {
    "sqlalchemy": "SQLAlchemy",
    "psycopg": "database driver",
    "SpiffWorkflow": "SpiffWorkflow",
    "json": "JSON",
    "flask": "Flask/Werkzeug",
    "werkzeug": "Flask/Werkzeug",
    "jsonschema": "jsonschema",
    "/engine/": "carecenter engine",
    "/api/": "carecenter api",
}


def _area(path: str, parent: str) -> str:
    """The area of a frame; built-ins and the standard library count for the code that called them."""
    for needle, area in AREAS.items():
        if needle in path:
            return area
    return parent


def _walk(frame, areas: Counter, functions: Counter, parent: str = "other") -> None:
    area = parent if frame.is_synthetic else _area(frame.file_path or "", parent)
    if frame.total_self_time:
        areas[area] += frame.total_self_time
        if not frame.is_synthetic:
            functions[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += frame.total_self_time
    for child in frame.children:
        _walk(child, areas, functions, area)


def run(smoke: bool) -> dict:
    count = 10 if smoke else 200
    with database("postgresql") as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        client = create_app(care).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('bench')[1]}"

        def lifecycle() -> None:
            started = client.post(f"/api/process-definitions/{PROCESS}/instances", json={"variables": {}}).get_json()
            done = client.post(f"/api/tasks/{started['tasks'][0]['id']}/complete", json={"data": {}}).get_json()
            client.post(f"/api/tasks/{done['instance']['tasks'][0]['id']}/complete", json={"data": {}})

        lifecycle()
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(count):
            lifecycle()
        session = profiler.stop()
        care.close()
    areas: Counter = Counter()
    functions: Counter = Counter()
    _walk(session.root_frame(), areas, functions)
    total = sum(areas.values()) or 1.0
    return {
        "what": "inquiry lifecycle in process through the Flask app on PostgreSQL (pyinstrument)",
        "lifecycles": count,
        "ms_per_lifecycle": session.duration * 1000 / count,
        "areas": [{"area": a, "share": t / total} for a, t in areas.most_common()],
        "hottest": [{"function": f, "share": t / total} for f, t in functions.most_common(12)],
        "text": profiler.output_text(unicode=False, color=False),
    }
