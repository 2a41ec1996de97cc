"""The process diagram of a request: the bpmn-js viewer files (from node_modules, never a CDN), the diagrams'
JSON with their completed/active markers, and a template helper for the request page (timeline, element names)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, send_from_directory

from app.config import PROJECT_ROOT
from app.services import diagram
from app.web.context import services

bp = Blueprint("diagram", __name__)
BPMN_JS_DIST = PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist"


def bpmn_js_dist() -> Path:
    return BPMN_JS_DIST


@bp.get("/vendor/bpmn-js/<path:filename>")
def vendor(filename: str) -> Response:
    """A file of bpmn-js's dist/ folder; anything outside it (../, absolute paths) is a 404."""
    dist = bpmn_js_dist()
    if not dist.is_dir():
        abort(404, description="bpmn-js is not installed (run make install)")
    return send_from_directory(dist, filename, max_age=3600)


@bp.get("/api/requests/<ref>/diagrams")
def diagrams(ref: str) -> Response:
    return jsonify(diagram.request_diagrams(services(), ref))


@bp.app_context_processor
def _request_page_helpers() -> dict[str, Callable[..., Any]]:
    """request.html calls `request_page_extras(r)` for the names, timeline and waiting elements it shows; lazy, so
    no other page pays for it. (Better: pages.request_page passes them in; see the hand-over notes.)"""
    return {"request_page_extras": lambda shown: diagram.request_page_extras(services(), shown)}
