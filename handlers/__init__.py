"""Registry of service operators: `<system>.<operation>` in the BPMN maps to `handlers/<system>.py:<operation>`."""

from __future__ import annotations

from handlers import asd, billing, crm, notify, worklist
from handlers.base import Clients, Handler, HandlerContext, HandlerError, InvalidParams, Refused

REGISTRY: dict[str, Handler] = {
    "crm.take_case": crm.take_case,
    "crm.add_note": crm.add_note,
    "crm.close_case": crm.close_case,
    "worklist.update_entry": worklist.update_entry,
    "billing.create_case": billing.create_case,
    "asd.start_service": asd.start_service,
    "asd.update_service": asd.update_service,
    "notify.customer": notify.customer,
    "notify.escalation": notify.escalation,
}

__all__ = ["REGISTRY", "Clients", "Handler", "HandlerContext", "HandlerError", "InvalidParams", "Refused"]
