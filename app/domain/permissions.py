"""Who may see and do what: the one place the rules are written, used by the pages, the CLI, the services and the SQL
filters alike (the inbox's SQL predicate is built from `task_grants`, the Python checks call `may_work_on`).

A user holds roles, each either within a provider group (manager, specialist, service provider, CAR) or system-wide
(process owner, auditor, administrator). A task is worked by whoever holds its lane's role in the request's provider
group.

Need-to-know reading: a request (its page, history, diagrams, replay, JSON, exports, and every list of requests) is
read by the members of its provider group (any role within that group) and by the all-group readers (process owners,
auditors, administrators); for everyone else it does not exist (404). `may_read_request` decides one request;
`readable_groups` is the same rule as the set a list's SQL filter keeps (None: every group). The `rf` command line is
the server operator's tool, run without a signed-in user: it reads as `OPERATOR`, who reads everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MANAGER, SPECIALIST, SERVICE_PROVIDER, CAR = "manager", "specialist", "service_provider", "car"
PROCESS_OWNER, AUDITOR, ADMIN = "process_owner", "auditor", "admin"

REQUEST_LOGGERS = (MANAGER, CAR)  # log new requests for their groups
CRM_PULLERS = (MANAGER,)  # pull CRM cases of their groups into requests
SCHEDULE_PLANNERS = (MANAGER, SERVICE_PROVIDER)  # re-plan and pull the enhancement requests on their groups' schedule
REPORT_READERS = (MANAGER, CAR, AUDITOR, ADMIN, PROCESS_OWNER)
ALL_GROUP_READERS = (AUDITOR, ADMIN, PROCESS_OWNER)  # read every provider group's requests and reports
AUDIT_READERS = (AUDITOR, ADMIN, PROCESS_OWNER)
PROCESS_OWNERS = (PROCESS_OWNER, ADMIN)  # deploy versions, move running instances
ADMINISTRATORS = (ADMIN,)
WEBHOOK_MANAGERS = ADMINISTRATORS  # subscribe URLs to events, see their delivery logs, redeliver


@dataclass(frozen=True)
class Identity:
    username: str
    full_name: str
    email: str
    grants: frozenset[tuple[str, str | None]]  # (role code, provider group code or None for system-wide)
    time_zone: str | None = None  # the zone this user reads times in (Preferences); None: the installation's

    def has_role(self, role: str, group: str | None = None) -> bool:
        return (role, group) in self.grants if group is not None else any(r == role for r, _ in self.grants)

    def holds_any(self, roles: tuple[str, ...]) -> bool:
        return any(r in roles for r, _ in self.grants)

    def groups_with(self, role: str) -> list[str]:
        return sorted(g for r, g in self.grants if r == role and g)

    @property
    def staff(self) -> bool:
        """Holds a role within some provider group (so has an inbox)."""
        return any(group for _, group in self.grants)

    @property
    def roles(self) -> list[str]:
        return sorted({r for r, _ in self.grants})


def task_grants(identity: Identity) -> frozenset[tuple[str, str]]:
    """The (lane role, provider group) pairs whose tasks this user sees and works."""
    return frozenset((role, group) for role, group in identity.grants if group)


def may_work_on(identity: Identity, role_code: str | None, provider_group: str) -> bool:
    """May see, claim and complete a task of this lane role in this provider group."""
    return (role_code, provider_group) in task_grants(identity)


def may_log_requests(identity: Identity, group: str) -> bool:
    return any(identity.has_role(role, group) for role in REQUEST_LOGGERS)


def may_pull_crm(identity: Identity, group: str | None = None) -> bool:
    """Pull CRM cases of `group` (None: of any group)."""
    return any(identity.has_role(role, group) for role in CRM_PULLERS)


def may_plan_schedule(identity: Identity, group: str) -> bool:
    """Move a scheduled enhancement request of `group` to another week: the group's managers and service providers."""
    return any(identity.has_role(role, group) for role in SCHEDULE_PLANNERS)


def may_pull_scheduled(identity: Identity, group: str, planned_week: date | None, this_week: date) -> bool:
    """Pull a scheduled enhancement request of `group` (start its work): the group's service providers from its
    planned week on, the group's managers at any time (they may bring work forward)."""
    if identity.has_role(MANAGER, group):
        return True
    return identity.has_role(SERVICE_PROVIDER, group) and (planned_week is None or planned_week <= this_week)


def may_cancel_scheduled(identity: Identity, group: str) -> bool:
    """Cancel a request of `group` that waits on its 60 day schedule (with a reason): the group's managers."""
    return identity.has_role(MANAGER, group)


def sees_every_group(identity: Identity) -> bool:
    return identity.holds_any(ALL_GROUP_READERS)


def may_repair_incidents(identity: Identity, group: str) -> bool:
    """Retry, correct the data of, or cancel a request stopped by an incident: admins and the group's managers."""
    return identity.holds_any(ADMINISTRATORS) or identity.has_role(MANAGER, group)


def may_see_incidents(identity: Identity, group: str) -> bool:
    """Process owners also see incidents (read-only: they change the process, not the request)."""
    return may_repair_incidents(identity, group) or identity.has_role(PROCESS_OWNER)


def may_list_incidents(identity: Identity) -> bool:
    """Open the Incidents list at all: administrators, process owners and provider group managers (each then sees
    the incidents of the groups `may_see_incidents` allows)."""
    return identity.holds_any((ADMIN, PROCESS_OWNER, MANAGER))


def may_read_audit(identity: Identity) -> bool:
    """The audit log itself (its events, the chain's verification, the CSV/XES exports): auditors, administrators
    and process owners."""
    return identity.holds_any(AUDIT_READERS)


def may_manage_token(identity: Identity, owner: str) -> bool:
    """Create, list and revoke API tokens of `owner`: the owner themselves or an administrator."""
    return identity.username == owner or identity.holds_any(ADMINISTRATORS)


def may_create_service_tokens(identity: Identity) -> bool:
    """Service-account tokens (for another system acting as a user set up for it) are an administrator's."""
    return identity.holds_any(ADMINISTRATORS)


def may_manage_webhooks(reader: Identity | Operator) -> bool:
    """Webhook subscriptions (their URLs, secrets and delivery logs) are administrators' business (and the operator's
    at the command line)."""
    return isinstance(reader, Operator) or reader.holds_any(WEBHOOK_MANAGERS)


@dataclass(frozen=True)
class Operator:
    """Whoever runs `rf` on the server: not a signed-in user, so no need-to-know restriction applies."""

    name: str = "operator"


OPERATOR = Operator()
Reader = Identity | Operator  # who reads a request: a signed-in user, or the operator at the command line


def readable_groups(reader: Reader) -> frozenset[str] | None:
    """The provider groups whose requests `reader` may read; None means every group (what a list filters by)."""
    if isinstance(reader, Operator) or sees_every_group(reader):
        return None
    return frozenset(group for _, group in reader.grants if group)


def may_read_request(reader: Reader, provider_group: str) -> bool:
    """May read a request of `provider_group`: a member of that group (any role), a process owner, an auditor or an
    administrator (or the operator at the command line). Everyone else is told the request does not exist."""
    groups = readable_groups(reader)
    return groups is None or provider_group in groups


def may_add_to_request(reader: Reader, provider_group: str) -> bool:
    """Write internal notes on, and attach files to, a request of `provider_group`: the members of that group (any
    role) and administrators. Process owners and auditors read them (`may_read_request`), read-only."""
    if isinstance(reader, Operator):
        return False
    return any(group == provider_group for _, group in reader.grants) or reader.holds_any(ADMINISTRATORS)


def may_file_mail(identity: Identity) -> bool:
    """See the unfiled mail (customer replies the system could not match) and file or discard it: administrators and
    provider group managers (a manager files against the requests of their own groups)."""
    return identity.holds_any((ADMIN, MANAGER))


@dataclass(frozen=True)
class Abilities:
    """What the navigation and pages offer a user, from the same rules the services enforce."""

    log_requests: bool
    pull_crm: bool
    read_reports: bool
    read_audit: bool
    own_processes: bool
    administer: bool
    see_every_group: bool
    see_incidents: bool
    manage_webhooks: bool
    manage_team: bool  # the Team queue: a manager of some provider group
    file_mail: bool = False  # the Unfiled mail page


def abilities(identity: Identity) -> Abilities:
    return Abilities(log_requests=identity.holds_any(REQUEST_LOGGERS), pull_crm=may_pull_crm(identity),
                     read_reports=identity.holds_any(REPORT_READERS), read_audit=may_read_audit(identity),
                     own_processes=identity.holds_any(PROCESS_OWNERS), administer=identity.holds_any(ADMINISTRATORS),
                     see_every_group=sees_every_group(identity),
                     see_incidents=may_list_incidents(identity),
                     manage_webhooks=may_manage_webhooks(identity),
                     manage_team=bool(identity.groups_with(MANAGER)), file_mail=may_file_mail(identity))
