"""The process engine: the only package that imports SpiffWorkflow. Everything it returns is plain data."""

from app.engine.compiler import CompiledBundle, compile_bundle
from app.engine.runtime import (
    HumanTask,
    InstanceState,
    ServiceCall,
    complete_human_task,
    fire_due_timers,
    inspect,
    run_service_task,
    start,
)
from app.engine.scripts import ScriptRejected

__all__ = [
    "CompiledBundle", "HumanTask", "InstanceState", "ScriptRejected", "ServiceCall", "compile_bundle",
    "complete_human_task", "fire_due_timers", "inspect", "run_service_task", "start",
]
