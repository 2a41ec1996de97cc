"""All SQLAlchemy models; importing this package registers every table on Base.metadata."""

from app.store.models.api import ApiToken, IdempotentResponse
from app.store.models.audit import AuditChain, AuditCheckpoint, AuditCheckpointHead, AuditEvent
from app.store.models.calendar import SLA_UNITS, Holiday, HolidayYear, SlaTarget
from app.store.models.conversation import InboundMail, RequestAttachment, RequestNote
from app.store.models.external import AsdService, BillingCase, CrmCase, CrmNote, Notification, WorkListEntry
from app.store.models.notices import EmailTemplate, UserNotice
from app.store.models.process import (
    CurrentVersion,
    DefinitionVersion,
    InstancePath,
    ProcessInstance,
    ServiceJob,
    TaskRow,
)
from app.store.models.reference import Membership, ProviderGroup, ReferenceGeneration, Role, User
from app.store.models.saved_filter import SavedFilter
from app.store.models.service_request import ESCALATION_LEVELS, ServiceRequest, SlaEscalation
from app.store.models.sign_in import InstallationSetting, SignInThrottle, WebSession
from app.store.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken", "IdempotentResponse",
    "AsdService", "AuditChain", "AuditCheckpoint", "AuditCheckpointHead", "AuditEvent", "BillingCase", "CrmCase",
    "CrmNote", "CurrentVersion",
    "DefinitionVersion", "InstancePath", "Membership", "Notification", "ProcessInstance", "ProviderGroup",
    "ReferenceGeneration", "Role",
    "ServiceJob",
    "ServiceRequest", "TaskRow", "User", "WorkListEntry",
    "SLA_UNITS", "Holiday", "HolidayYear", "SlaTarget", "ESCALATION_LEVELS", "SlaEscalation",
    "InstallationSetting", "SignInThrottle", "WebSession", "SavedFilter",
    "InboundMail", "RequestAttachment", "RequestNote",
    "WebhookAttempt", "WebhookDelivery", "WebhookSubscription", "EmailTemplate", "UserNotice",
]
