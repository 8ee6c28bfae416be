"""The committed modeler bundle is the one its build wrote: every file matches SHA256SUMS, nothing is extra or missing.

The bundle is built by ``make modeler-bundle`` (api/modeler/build.mjs, node needed) and committed, so
running and testing carecenter need no node; this test, which needs none either, catches a bundle
edited by hand or committed without its checksums and licenses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from api import app as api_app

STATIC = Path(api_app.__file__).parent / "static" / "modeler"
SOURCES = Path(api_app.__file__).parent / "modeler"
BUILT = ("modeler.js", "modeler.css", "dmn.js", "dmn.css", "LICENSES.txt", "fonts/")


def sums() -> dict[str, str]:
    listed = {}
    for line in (STATIC / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    return listed


def test_every_bundled_file_matches_its_checksum():
    listed = sums()
    assert {"modeler.js", "modeler.css", "dmn.js", "dmn.css", "LICENSES.txt"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, f"{name} differs from SHA256SUMS"


def test_no_built_file_is_missing_from_the_checksums():
    present = {
        str(path.relative_to(STATIC))
        for path in STATIC.rglob("*")
        if path.is_file() and str(path.relative_to(STATIC)).startswith(BUILT)
    }
    assert present == set(sums())


def test_the_licenses_name_every_pinned_package_of_the_bundle():
    lock = json.loads((SOURCES / "package-lock.json").read_text())
    licenses = (STATIC / "LICENSES.txt").read_text()
    for name in json.loads((SOURCES / "package.json").read_text())["dependencies"]:
        version = lock["packages"][f"node_modules/{name}"]["version"]
        assert f"{name} {version} (" in licenses


def test_the_stylesheets_load_their_fonts_from_carecenter():
    for name, font in (("modeler.css", "fonts/bpmn-"), ("dmn.css", "fonts/dmn-")):
        css = (STATIC / name).read_text()
        assert font in css and "http://" not in css.replace("http://www.w3.org/2000/svg", ""), name
        assert "https://" not in css, name
