"""The CRM's case feed: `POST /api/v1/crm/cases`, signed by the CRM (no token, no session: the signature is the
authentication), into the Pending Queue. The contract is docs/crm-integration.md."""

from __future__ import annotations

from typing import Any, Literal

from flask import request
from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.domain.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER
from app.services.requests import crm_feed
from app.web.api.common import Problem, Responses, respond, tag
from app.web.context import services

bp = APIBlueprint("api_crm_feed", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "CRM feed", "The CRM tells Request Fulfillment about its cases. Signed with HMAC-SHA256 over "
                "`<X-RF-Timestamp>.<body>` with the shared secret (RF_CRM_FEED_SECRET); see the CRM integration "
                "contract.")])


class FeedHeaders(BaseModel):
    x_rf_timestamp: str | None = Field(None, alias="X-RF-Timestamp", max_length=40,
                                       description="Unix time in seconds when the CRM signed the message")
    x_rf_signature: str | None = Field(None, alias="X-RF-Signature", max_length=200,
                                       description="`sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>`")


class FeedReceipt(BaseModel):
    case_id: str
    event: Literal["created", "updated", "cancelled"]
    outcome: Literal["created", "updated", "unchanged", "reopened", "cancelled", "noted", "flagged", "stale",
                     "ignored"]
    request_number: str | None


assert FeedHeaders.model_fields["x_rf_timestamp"].alias == TIMESTAMP_HEADER
assert FeedHeaders.model_fields["x_rf_signature"].alias == SIGNATURE_HEADER
FEED_RESPONSES: Responses = {200: FeedReceipt, 400: Problem, 401: Problem, 413: Problem, 422: Problem,
                             503: Problem}
BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": crm_feed.CrmCaseMessage.model_json_schema()}}}}


@bp.post("/crm/cases", summary="Receive a CRM case (created, updated, cancelled)", responses=FEED_RESPONSES,
         openapi_extensions=BODY)
def receive_case(header: FeedHeaders) -> tuple[dict[str, Any], int]:
    """Idempotent on the CRM's `case_id`: the same message again changes nothing and gets the same answer. The
    signature is checked over the exact bytes received, before anything is read."""
    receipt = crm_feed.receive(services(), request.get_data(), header.x_rf_timestamp, header.x_rf_signature)
    return respond(FeedReceipt(**receipt.as_json()))
