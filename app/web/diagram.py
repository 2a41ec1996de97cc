"""The process diagram of a request: the bpmn-js viewer files (from npm, never a CDN: built into the package, or
node_modules in a checkout) and the diagrams' JSON with their completed/active markers."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, request, send_from_directory

from app.config import ESM_PACKAGES, esm_dir, vendor_dir
from app.services.requests import diagram
from app.web.context import identity, services

bp = Blueprint("diagram", __name__)
BPMN_JS_DIST = vendor_dir("bpmn-js")  # bpmn-js's dist/ (only the files the app serves, in an installed package)


def bpmn_js_dist() -> Path:
    return BPMN_JS_DIST


@bp.get("/vendor/bpmn-js/<path:filename>")
def vendor(filename: str) -> Response:
    """A file of bpmn-js's dist/ folder; anything outside it (../, absolute paths) is a 404."""
    dist = bpmn_js_dist()
    if not dist.is_dir():
        abort(404, description="bpmn-js is not installed (run make install)")
    return send_from_directory(dist, filename, max_age=3600)


@bp.get("/vendor/modeler/<path:filename>")
def modeler_bundle(filename: str) -> Response:
    """The modeler page's script and stylesheet (bpmn-js with its properties panel and bpmnlint, one file each)."""
    built = vendor_dir("modeler")
    if not built.is_dir():
        abort(404, description="the modeler bundle is not built (run make install)")
    return send_from_directory(built, filename, max_age=3600)


_BARE_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(['"])([a-z-]+)\2""")


@bp.get("/vendor/esm/<package>/index.js")
def esm(package: str) -> Response:
    """The ES module build of a package bpmn-auto-layout needs, its bare imports (`from 'min-dash'`) pointed at the
    sibling route, so the browser loads it without an import map (an inline script, which our CSP forbids)."""
    if package not in ESM_PACKAGES:
        abort(404)
    source = esm_dir(package) / "index.js"
    if not source.is_file():
        abort(404, description=f"{package} is not installed (run make install)")

    def local(found: re.Match[str]) -> str:
        name = found.group(3)
        target = f"../{name}/index.js" if name in ESM_PACKAGES else name
        return f"{found.group(1)}{found.group(2)}{target}{found.group(2)}"

    response = Response(_BARE_IMPORT.sub(local, source.read_text(encoding="utf-8")), mimetype="text/javascript")
    response.cache_control.max_age = 3600
    return response


@bp.get("/api/requests/<ref>/diagrams")
def diagrams(ref: str) -> Response:
    """?step=N: coloured for the request as it was after its N-th audit event (replayed; notes in ?tz=)."""
    if request.args.get("step"):
        from app.web.history import step_diagrams

        return jsonify(step_diagrams(ref, request.args["step"]))
    return jsonify(diagram.request_diagrams(services(), ref, reader=identity()))
