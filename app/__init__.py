"""Request Fulfillment. `flask --app app ...` finds `create_app` here; nothing heavy is imported at package import."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    from app.web import create_app as factory

    return factory(*args, **kwargs)
