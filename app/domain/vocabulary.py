"""The words of the domain, defined once: request types, priorities, and the schema every new request is validated
against (by the intake service, for the CLI and the API) and rendered from (the web's new request form)."""

from __future__ import annotations

import copy
from typing import Any

REQUEST_TYPES = ("assistance", "enhancement")
PRIORITIES = ("low", "medium", "high", "critical")
REQUEST_TYPE_NAMES = {"assistance": "Assistance Request", "enhancement": "Enhancement Request"}
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "agency", "requester_name", "requester_email", "provider_group"],
    "properties": {
        "title": {"type": "string", "title": "Title", "minLength": 3, "maxLength": 300},
        "description": {"type": "string", "title": "Description", "maxLength": 10000},
        "agency": {"type": "string", "title": "Agency", "minLength": 2, "maxLength": 200},
        "requester_name": {"type": "string", "title": "Requester", "minLength": 2, "maxLength": 200},
        "requester_email": {"type": "string", "title": "Requester email", "format": "email", "maxLength": 320,
                            "pattern": EMAIL_PATTERN,
                            "x-message": "Must be an email address such as name@agency.ok.gov."},
        "provider_group": {"type": "string", "title": "Provider group", "minLength": 1},
        "priority": {"title": "Priority", "enum": list(PRIORITIES), "default": "medium"},
        "routine": {"type": "boolean", "title": "Routine request", "default": True,
                    "description": "Related to an existing service of a current OMES customer. Untick to send an "
                                   "enhancement through Discovery first."},
        "crm_case_id": {"type": "string", "pattern": r"^CRM-\d{6}$"},
        "sla_due_at": {"type": "string", "format": "date-time"},
    },
}


def new_request_form(groups: list[str]) -> dict[str, Any]:
    """The web form's schema: the request schema, plus the request type, for the given provider groups."""
    schema = copy.deepcopy(REQUEST_SCHEMA)
    properties = schema["properties"]
    for internal in ("crm_case_id", "sla_due_at"):
        del properties[internal]
    properties["request_type"] = {
        "title": "Request type", "enum": list(REQUEST_TYPES),
        "description": "Assistance: a routine request worked from the CRM case. Enhancement: a Request for Change "
                       "planned on the 60 day schedule."}
    properties["provider_group"] = {"title": "Provider group", "enum": groups}
    schema["required"] = ["request_type", *schema["required"], "priority"]
    schema.pop("additionalProperties")
    return schema
