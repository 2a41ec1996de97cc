"""The SpiffWorkflow patches are written for one version: an upgrade fails here, so each patch is checked again."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from importlib.metadata import version

from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

from app.engine import spiff_patches


def test_the_installed_spiffworkflow_is_the_one_the_patches_were_written_for():
    assert version("spiffworkflow") == spiff_patches.PATCHED_VERSION


def test_the_timer_module_reads_the_engine_clock_and_the_task_iterators_have_no_depth_cap():
    assert timer.datetime is spiff_patches._ClockedDatetime
    for iterator in (TaskIterator, BpmnTaskIterator):
        assert inspect.signature(iterator.__init__).parameters["max_depth"].default == spiff_patches.UNLIMITED_DEPTH


def test_a_timer_date_without_an_offset_is_read_in_the_installation_zone_never_the_machines():
    assert timer.TimeDateEventDefinition.has_fired is spiff_patches._time_date_has_fired
    assert timer.TimerEventDefinition.get_datetime("2026-12-10") == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    assert timer.TimerEventDefinition.get_datetime("2026-07-10T09:30") == datetime(2026, 7, 10, 14, 30, tzinfo=UTC)
    assert timer.TimerEventDefinition.get_datetime("2026-12-10T00:00:00+00:00") == datetime(2026, 12, 10, tzinfo=UTC)
