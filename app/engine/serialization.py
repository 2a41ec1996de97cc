"""Split storage: a definition version's spec JSON is stored once; each instance stores only its own state."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from app.engine.scripts import AppScriptEngine

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
_SPEC_KEYS = ("spec", "subprocess_specs")


def spec_json_of(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """Serialise only the spec part (what every instance of a version shares)."""
    full = json.loads(SERIALIZER.serialize_json(BpmnWorkflow(spec, subprocess_specs)))
    return json.dumps({key: full[key] for key in _SPEC_KEYS}, sort_keys=True)


def split_state(serialized: str) -> str:
    full = json.loads(serialized)
    for key in _SPEC_KEYS:
        full.pop(key, None)
    return json.dumps(full)


def state_json_of(workflow: BpmnWorkflow) -> str:
    """The instance's own state as JSON: what `split_state(SERIALIZER.serialize_json(workflow))` gives, byte for
    byte, without converting the spec (the larger part, stored once per version) only to drop it again."""
    converter = SERIALIZER.registry.convert_from_dict["BpmnWorkflow"].args[0].__self__
    registry = SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = WorkflowConverter.to_dict(converter, workflow)
        dct["subprocesses"] = converter.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = registry.convert(workflow.bpmn_events)
        dct["typename"] = registry.typenames[workflow.__class__]
        dct[SERIALIZER.VERSION_KEY] = SERIALIZER.VERSION
        return json.dumps(dct, cls=SERIALIZER._encoder_cls)
    finally:
        registry._encoder_mode = False


@lru_cache(maxsize=32)
def specs_of(spec_json: str) -> tuple[Any, dict[str, Any]]:
    """Restored spec objects of a definition version; shared read-only by every instance of that version."""
    parts = json.loads(spec_json)
    spec = SERIALIZER.from_dict(parts["spec"])
    return spec, {name: SERIALIZER.from_dict(sub) for name, sub in parts["subprocess_specs"].items()}


def _restore(dct: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """SpiffWorkflow's BpmnWorkflowConverter.from_dict, minus restoring the specs again on every load."""
    converter = SERIALIZER.registry.convert_from_dict["BpmnWorkflow"].args[0].__self__
    workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
    workflow.tasks = converter.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    converter.set_default_attributes(workflow, dct)
    converter.subprocesses_from_dict(dct["subprocesses"], workflow)
    workflow.bpmn_events = SERIALIZER.registry.restore(dct.pop("bpmn_events", []))
    return workflow


def load_workflow(spec_json: str, state_json: str | None, engine: AppScriptEngine) -> BpmnWorkflow:
    spec, subprocess_specs = specs_of(spec_json)
    if state_json is None:
        return BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    dct = json.loads(state_json)
    if dct.get(SERIALIZER.VERSION_KEY) == SERIALIZER.VERSION:
        dct.pop(SERIALIZER.VERSION_KEY)
        workflow = _restore(dct, spec, subprocess_specs)
    else:  # an older serializer version: let SpiffWorkflow migrate the whole document
        dct.update(json.loads(spec_json))
        SERIALIZER.migrate(dct)
        workflow = SERIALIZER.from_dict(dct)
    workflow.script_engine = engine
    return workflow
