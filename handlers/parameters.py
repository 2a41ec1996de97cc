"""What each service operator reads from its parameters: name, type (as `spiffworkflow:parameter type=` names it)
and whether the handler refuses a call without it. The modeler's properties panel offers these when a process owner
picks an operator; a test keeps this list and the handlers in step."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "str"  # str, float or bool
    required: bool = True


def _text(*names: str) -> tuple[Parameter, ...]:
    return tuple(Parameter(name) for name in names)


PARAMETERS: dict[str, tuple[Parameter, ...]] = {
    "crm.take_case": _text("case_id", "request_number", "provider_group"),
    "crm.add_note": _text("case_id", "note"),
    "crm.close_case": (*_text("case_id", "resolution"), Parameter("resolution_code", required=False)),
    "worklist.update_entry": (*_text("request_number", "title", "agency", "provider_group", "work_plan"),
                              Parameter("estimated_hours", "float"), *_text("planned_start", "planned_finish")),
    "billing.create_case": (*_text("request_number", "agency"), Parameter("billable_hours", "float"),
                            Parameter("hourly_rate", "float"), Parameter("billing_code")),
    "asd.start_service": _text("agency", "request_number", "service_name"),
    "asd.update_service": _text("agency", "request_number", "service_name", "billing_code", "service_live_date"),
    "notify.customer": (*_text("to", "subject", "message", "request_number"),
                        Parameter("expects_reply", "bool", required=False),
                        Parameter("template", "str", required=False)),
    "notify.escalation": _text("request_number", "provider_group", "title", "sla_due_at"),
}


def operator_specs(operators: list[str]) -> dict[str, list[dict[str, Any]]]:
    """JSON-ready parameter lists of the given operators (an operator without a spec has an empty list)."""
    return {name: [asdict(p) for p in PARAMETERS.get(name, ())] for name in sorted(operators)}
