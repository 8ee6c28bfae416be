"""Serves the OpenAPI 3.1 document kept beside the code (``api/openapi.json``)."""

from flask import Blueprint, jsonify

from api.document import load_document

blueprint = Blueprint("openapi", __name__)


@blueprint.get("/api/openapi.json")
def document():
    return jsonify(load_document())
