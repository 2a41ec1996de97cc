"""SpiffWorkflow writes a line per task state change; the app's log configuration keeps them for DEBUG only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from app.observability import logs


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root, spiff = logging.getLogger(), logging.getLogger("spiff")
    handlers, level, spiff_level = list(root.handlers), root.level, spiff.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    spiff.setLevel(spiff_level)


def _enabled(level: int) -> bool:
    return logging.getLogger("spiff.task").isEnabledFor(level)


def test_at_info_the_engines_state_changes_are_left_out_but_its_warnings_stay():
    logs.configure("json", "INFO")
    assert not _enabled(logging.INFO)
    assert _enabled(logging.WARNING)
    assert logging.getLogger("rf.http").isEnabledFor(logging.INFO)  # the app's own lines stay


def test_at_debug_every_engine_line_is_written():
    logs.configure("text", "DEBUG")
    assert _enabled(logging.INFO) and _enabled(logging.DEBUG)
