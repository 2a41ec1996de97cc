"""Split storage: a definition version's spec JSON is stored once; each instance stores only its own state."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
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


def load_workflow(spec_json: str, state_json: str | None, engine: AppScriptEngine) -> BpmnWorkflow:
    spec_parts = json.loads(spec_json)
    if state_json is None:
        spec = SERIALIZER.from_dict(spec_parts["spec"])
        subprocess_specs = {name: SERIALIZER.from_dict(sub) for name, sub in spec_parts["subprocess_specs"].items()}
        return BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    dct = json.loads(state_json)
    dct.update(spec_parts)
    SERIALIZER.migrate(dct)
    workflow: BpmnWorkflow = SERIALIZER.from_dict(dct)
    workflow.script_engine = engine
    return workflow
