"""The SpiffWorkflow patches are written for one version: an upgrade fails here, so each patch is checked again."""

from __future__ import annotations

import inspect
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
