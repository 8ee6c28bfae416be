"""Serves the OpenAPI 3.1 document kept beside the code (``api/openapi.json``)."""

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, jsonify

blueprint = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"


@cache
def load_document() -> dict:
    return json.loads(DOCUMENT.read_text())


@blueprint.get("/api/openapi.json")
def document():
    return jsonify(load_document())
