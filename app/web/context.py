"""Access to the application's services and the signed-in identity from views."""

from __future__ import annotations

from flask import current_app, g

from app.bootstrap import Services
from app.domain.permissions import Identity


def services() -> Services:
    found: Services = current_app.extensions["rf_services"]
    return found


def identity() -> Identity:
    found: Identity = g.identity
    return found
