"""The process engine: the only package that imports SpiffWorkflow. Everything it returns is plain data."""

from app.engine.compiler import CompiledBundle, compile_bundle
from app.engine.instance_moves import Blocker, MigrationCheck, check_migration, migrate_instance
from app.engine.repair import ServiceInputs, cancel, edit_service_inputs, service_inputs
from app.engine.replay import (
    Difference,
    RecordedInput,
    ReplayRun,
    Snapshot,
    WaitingTimer,
    compare,
    element_names,
    replay_inputs,
    snapshot,
)
from app.engine.runtime import (
    HumanTask,
    InstanceState,
    ServiceCall,
    complete_human_task,
    fire_due_timers,
    inspect,
    prepare_spec,
    run_service_task,
    start,
)
from app.engine.scripts import ScriptRejected

__all__ = [
    "CompiledBundle", "Difference", "HumanTask", "InstanceState", "RecordedInput", "ReplayRun", "ScriptRejected",
    "ServiceCall", "Snapshot", "WaitingTimer", "compare", "compile_bundle", "complete_human_task", "element_names",
    "fire_due_timers", "inspect", "replay_inputs", "run_service_task", "snapshot", "start",
]
__all__ += ["Blocker", "MigrationCheck", "check_migration", "migrate_instance"]
__all__ += ["ServiceInputs", "cancel", "edit_service_inputs", "service_inputs"]
__all__ += ["prepare_spec"]
