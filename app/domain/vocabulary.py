"""The words of the domain, defined once: request types, priorities, and the schema every new request is validated
against (by the intake service, for the CLI and the API) and rendered from (the web's new request form)."""

from __future__ import annotations

import copy
from typing import Any

REQUEST_TYPES = ("assistance", "enhancement")
PRIORITIES = ("low", "medium", "high", "critical")
REQUEST_TYPE_NAMES = {"assistance": "Assistance Request", "enhancement": "Enhancement Request"}
# An address as mail servers and address lists take it: no white space, no comma, semicolon, angle bracket,
# parenthesis, bracket, quote, backslash or colon (which would split or break a To: header).
EMAIL_PATTERN = r'^[^@\s,;<>()\[\]\\":]+@[^@\s,;<>()\[\]\\":]+\.[^@\s,;<>()\[\]\\":]+$'
NOT_BLANK = {"pattern": r"\S", "x-message": "Must not be blank."}
SINGLE_LINE = "x-single-line"  # app.domain.form_rules: no line breaks, tabs or other control characters

# Limits agree with every later step: the title is the CRM case subject, the work-list title and the ASD service
# name (300 each) and goes into the customer's email subject, which the notify handler shortens to 300; agency and
# requester name are 200 wherever they are stored; an address longer than 254 is refused by SMTP (RFC 5321).
# A CRM case's id: ours for a case logged here (CRM-000001), the CRM's own for a case its feed sent (at most 32
# characters: a letter or digit, then letters, digits and . _ : -).
CRM_CASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$"
LOCAL_CRM_CASE_ID_PATTERN = r"^CRM-\d+$"  # reserved for cases logged in Request Fulfillment

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "agency", "requester_name", "requester_email", "provider_group"],
    "properties": {
        "title": {"type": "string", "title": "Title", "minLength": 3, "maxLength": 300, SINGLE_LINE: True,
                  **NOT_BLANK},
        "description": {"type": "string", "title": "Description", "maxLength": 10000},
        "agency": {"type": "string", "title": "Agency", "minLength": 2, "maxLength": 200, SINGLE_LINE: True,
                   **NOT_BLANK},
        "requester_name": {"type": "string", "title": "Requester", "minLength": 2, "maxLength": 200,
                           SINGLE_LINE: True, **NOT_BLANK},
        "requester_email": {"type": "string", "title": "Requester email", "format": "email", "maxLength": 254,
                            "pattern": EMAIL_PATTERN, SINGLE_LINE: True,
                            "x-message": "Must be an email address such as name@agency.ok.gov."},
        "provider_group": {"type": "string", "title": "Provider group", "minLength": 1, "maxLength": 64,
                           SINGLE_LINE: True},
        "priority": {"title": "Priority", "enum": list(PRIORITIES), "default": "medium"},
        "routine": {"type": "boolean", "title": "Routine request", "default": True,
                    "description": "Related to an existing service of a current OMES customer. Untick to send an "
                                   "enhancement through Discovery first."},
        "crm_case_id": {"type": "string", "pattern": CRM_CASE_ID_PATTERN, SINGLE_LINE: True},
        "sla_due_at": {"type": "string", "format": "date-time", SINGLE_LINE: True},
    },
}
MULTI_LINE_FIELDS = ("description",)  # every other text field of a request is a single line


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
