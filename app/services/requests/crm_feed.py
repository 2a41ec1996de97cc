"""The CRM's case feed: the CRM tells us about its cases (created, updated, cancelled) and they fill the Pending Queue.

Mounted by the web layer at `POST /api/v1/crm/cases`; the contract is docs/crm-integration.md. Each message is signed
(app/domain/signatures.py: HMAC-SHA256 of "<timestamp>." + body with RF_CRM_FEED_SECRET, within the replay window),
then validated (`CrmCaseMessage`), then applied in one transaction:

- idempotent on the CRM's case id: the same message again changes nothing and gets the same answer; a "created" for a
  case we have is an update; with `sequence`, a message older than the last one applied is ignored ("stale");
- a case still in the Pending Queue is created, updated, reopened or cancelled (status `cancelled`: off the queue);
- a case a request has already taken is never edited behind the request's back: what changed (or the cancellation)
  is recorded as an audit event on the request, and a cancellation marks the case on the request's page; the request
  goes on until its people decide (they can cancel it from an incident or finish it).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.signatures import BadSignature, verify
from app.domain.vocabulary import CRM_CASE_ID_PATTERN, LOCAL_CRM_CASE_ID_PATTERN
from app.errors import FieldError, InvalidData, NotConfigured, Unauthorized
from app.services.context import Context
from app.store import audit
from app.store.models import CrmCase, ProviderGroup, ServiceRequest

ACTOR = "crm-feed"
MAX_BODY_BYTES = 64 * 1024
RESERVED_CASE_ID = re.compile(LOCAL_CRM_CASE_ID_PATTERN)  # the numbers of cases logged in Request Fulfillment
CASE_ID = re.compile(CRM_CASE_ID_PATTERN)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CASE_FIELDS = ("subject", "description", "agency", "requester_name", "requester_email", "provider_group")
REQUIRED = ("subject", "agency", "requester_name", "requester_email", "provider_group")


def _printable(text: str, single_line: bool) -> str:
    allowed = "" if single_line else "\n\r\t"
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch not in allowed for ch in text):
        raise ValueError("must be one line without control characters" if single_line
                         else "must not contain control characters other than line breaks and tabs")
    return text


def _one_line(text: str) -> str:
    return _printable(text, single_line=True).strip()


def _case_id(text: str) -> str:
    if not CASE_ID.match(text):
        raise ValueError("must start with a letter or digit and use only letters, digits and . _ : -")
    if RESERVED_CASE_ID.match(text):
        raise ValueError("CRM-<digits> is reserved for cases logged in Request Fulfillment")
    return text


def _email(text: str) -> str:
    if not EMAIL.match(text):
        raise ValueError("must be an email address")
    return text


def _text(text: str) -> str:
    return _printable(text, single_line=False)


Line = Annotated[str, AfterValidator(_one_line)]


class CrmCaseMessage(BaseModel):
    """One message of the feed. Unknown fields are ignored (a CRM may send more than we read)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    event: Literal["created", "updated", "cancelled"]
    case_id: Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_case_id)]
    subject: Annotated[Line, Field(min_length=1, max_length=300)] | None = None
    description: Annotated[str, Field(max_length=20_000), AfterValidator(_text)] | None = None
    agency: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    requester_name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    requester_email: Annotated[Line, Field(min_length=3, max_length=254), AfterValidator(_email)] | None = None
    provider_group: Annotated[Line, Field(min_length=1, max_length=64)] | None = None
    opened_at: AwareDatetime | None = None
    sent_at: AwareDatetime | None = None
    sequence: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None
    reason: Annotated[Line, Field(max_length=1000)] | None = None  # why it was cancelled

    def digest(self) -> str:
        """What makes two messages the same message (sent_at is when it was sent, not what it says)."""
        return hashlib.sha256(self.model_dump_json(exclude={"sent_at"}).encode()).hexdigest()


@dataclass(frozen=True)
class FeedReceipt:
    """The answer to one message. `outcome`: created, updated, unchanged, reopened, cancelled (out of the queue),
    noted (changes recorded on the request that took the case), flagged (cancelled in the CRM after a request took
    it: marked, the request goes on), stale (older than the last message applied) or ignored (a cancellation of a
    case we never had)."""

    case_id: str
    event: str
    outcome: str
    request_number: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "event": self.event, "outcome": self.outcome,
                "request_number": self.request_number}


def parse(body: bytes) -> CrmCaseMessage:
    """The message in `body`, or InvalidData naming every field that is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidData("the message is too large", [FieldError("(body)", f"more than {MAX_BODY_BYTES} bytes")])
    try:
        message = CrmCaseMessage.model_validate_json(body)
    except ValidationError as err:
        raise InvalidData("the CRM case message is not valid", [
            FieldError(".".join(str(part) for part in e["loc"]) or "(body)", e["msg"].removeprefix("Value error, "))
            for e in err.errors(include_url=False)]) from None
    if message.event != "cancelled":
        missing = [FieldError(name, "Field required") for name in REQUIRED if getattr(message, name) is None]
        if missing:
            raise InvalidData(f"a {message.event!r} message needs the case's fields", missing)
    return message


def receive(services: Context, body: bytes, timestamp_header: str | None,
            signature_header: str | None) -> FeedReceipt:
    """Verify, validate and apply one message of the CRM's case feed (see the module's docstring)."""
    secret = services.settings.crm_feed_secret
    if not secret:
        raise NotConfigured("the CRM case feed is not configured on this installation (RF_CRM_FEED_SECRET is unset)")
    now = services.clock.now()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidData("the message is too large", [FieldError("(body)", f"more than {MAX_BODY_BYTES} bytes")])
    try:
        verify(secret, timestamp_header, signature_header, body, now)
    except BadSignature as err:
        raise Unauthorized(f"the CRM case message is refused: {err}") from None
    message = parse(body)
    for attempt in (1, 2):
        try:
            with services.uow() as uow:
                receipt = _apply(uow.session, message, now)
                uow.commit()
                return receipt
        except IntegrityError:  # the same new case arrived twice at once: the other one won, read it again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _locked_case(session: Session, case_id: str) -> CrmCase | None:
    return session.scalars(select(CrmCase).where(CrmCase.case_number == case_id).with_for_update()).one_or_none()


def _apply(session: Session, message: CrmCaseMessage, now: datetime) -> FeedReceipt:
    case = _locked_case(session, message.case_id)
    digest = message.digest()

    def answer(outcome: str) -> FeedReceipt:
        return FeedReceipt(message.case_id, message.event, outcome, case.request_number if case else None)

    if case is not None:
        if case.origin != "crm":
            raise InvalidData("not a case of the CRM's feed",
                              [FieldError("case_id", f"{message.case_id} was logged in Request Fulfillment")])
        if case.feed_digest == digest and case.feed_outcome:
            return answer(case.feed_outcome)  # the same message again: nothing changes, the same answer
        if message.sequence is not None and case.feed_sequence is not None and message.sequence <= case.feed_sequence:
            return answer("stale")
    if message.event == "cancelled":
        if case is None:
            return answer("ignored")
        outcome = _cancel(session, case, message, now)
    else:
        _known_group(session, message.provider_group or "")
        case, outcome = _create_or_update(session, case, message, now)
    case.feed_digest, case.feed_outcome, case.feed_received_at = digest, outcome, now
    if message.sequence is not None:
        case.feed_sequence = message.sequence
    return answer(outcome)


def _known_group(session: Session, code: str) -> None:
    if session.scalars(select(ProviderGroup.id).where(ProviderGroup.code == code)).first() is None:
        raise InvalidData("unknown provider group", [FieldError("provider_group", f"{code!r} is not a provider group")])


def _request_id(session: Session, number: str) -> int | None:
    return session.scalars(select(ServiceRequest.id).where(ServiceRequest.number == number)).first()


def _create_or_update(session: Session, case: CrmCase | None, message: CrmCaseMessage,
                      now: datetime) -> tuple[CrmCase, str]:
    fields: dict[str, Any] = {name: getattr(message, name) or "" for name in CASE_FIELDS}
    if case is None:
        case = CrmCase(case_number=message.case_id, origin="crm", status="pending",
                       opened_at=message.opened_at or now, **fields)
        session.add(case)
        session.flush()
        audit.append(session, actor=ACTOR, event_type="crm_case_received", now=now,
                     payload={"case": message.case_id, "event": message.event, "outcome": "created",
                              "provider_group": case.provider_group, "subject": case.subject})
        return case, "created"
    changes = {name: {"before": getattr(case, name), "after": value} for name, value in fields.items()
               if getattr(case, name) != value}
    for name, change in changes.items():
        setattr(case, name, change["after"])  # the mirror follows the CRM
    if case.request_number is None:
        reopened = case.status == "cancelled"
        case.status = "pending"
        outcome = "reopened" if reopened else "updated" if changes else "unchanged"
        if outcome != "unchanged":
            audit.append(session, actor=ACTOR, event_type="crm_case_received", now=now,
                         payload={"case": message.case_id, "event": message.event, "outcome": outcome,
                                  "changes": changes})
        return case, outcome
    reopened = case.cancelled_in_crm_at is not None
    case.cancelled_in_crm_at = None
    if not changes and not reopened:
        return case, "unchanged"
    # Taken by a request: the request keeps what it was started with; its people see what the CRM changed.
    audit.append(session, actor=ACTOR, event_type="crm_case_updated", request_id=_request_id(
        session, case.request_number), now=now, payload={"case": message.case_id, "changes": changes,
                                                          "reopened_in_crm": reopened})
    return case, "noted"


def _cancel(session: Session, case: CrmCase, message: CrmCaseMessage, now: datetime) -> str:
    reason = message.reason or ""
    if case.request_number is None:
        if case.status == "cancelled":
            return "unchanged"
        case.status = "cancelled"
        audit.append(session, actor=ACTOR, event_type="crm_case_received", now=now,
                     payload={"case": message.case_id, "event": "cancelled", "outcome": "cancelled",
                              "reason": reason})
        return "cancelled"
    if case.cancelled_in_crm_at is not None or case.status == "closed":
        return "unchanged"
    case.cancelled_in_crm_at = now  # the request goes on: its people decide (never a silent cancel)
    audit.append(session, actor=ACTOR, event_type="crm_case_cancelled", request_id=_request_id(
        session, case.request_number), now=now, payload={"case": message.case_id, "reason": reason})
    return "flagged"
