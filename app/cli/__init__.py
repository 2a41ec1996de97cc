"""The `rf` command line (entry points): `support` (services, errors, output) and one module per command group.

Commands parse their arguments, call one service and print its result; they import services, never the store or the
engine. `rf = "app.cli:main"`.
"""

from __future__ import annotations

from app.cli.main import cli, main

__all__ = ["cli", "main"]
