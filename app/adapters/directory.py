"""Who is told about what: escalation recipients from the reference data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Membership, ProviderGroup, Role, TaskRow, User


class DbDirectory:
    def __init__(self, session: Session) -> None:
        self.session = session

    def escalation_recipients(self, provider_group: str, request_number: str) -> list[str]:
        managers = self.session.scalars(
            select(User.email).join(Membership).join(Role).join(ProviderGroup)
            .where(Role.code == "manager", ProviderGroup.code == provider_group, User.is_active)).all()
        assignees = self.session.scalars(
            select(User.email).join(TaskRow, TaskRow.assignee == User.username)
            .where(TaskRow.request_number == request_number, TaskRow.status == "open")).all()
        return sorted(set(managers) | set(assignees))
