"""The directory of prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) for `rf serve --processes N`.

Kept apart from `metrics` because it must run before anything imports prometheus-client: the library picks its
multiprocess mode when first imported.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> Path | None:
    """Use the operator's PROMETHEUS_MULTIPROC_DIR, emptied of a previous run's files; or, when unset, a new private
    temporary directory, returned so that the caller removes it when the server stops."""
    configured = os.environ.get(ENV)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    folder = Path(tempfile.mkdtemp(prefix="rf-metrics-"))
    os.environ[ENV] = str(folder)
    return folder
