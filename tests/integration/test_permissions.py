"""One rule for who works a task: the inbox's SQL predicate and the Python check of the task actions come from the
same definition (app/domain/permissions.py) and agree for every demo user on every lane role in every group."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from app.domain.permissions import may_work_on
from app.services.admin import auth
from app.services.admin.setup import DEMO_USERS, PROVIDER_GROUPS, ROLES
from app.services.tasks.inbox import visible_to
from app.store.models import ProcessInstance, ServiceRequest, TaskRow
from tests.driver import Driver


def test_the_sql_filter_and_the_python_check_agree_for_every_user_role_and_group(services, clock):
    Driver(services, clock).new("assistance")  # a request and instance for the tasks below to hang on
    with services.uow() as uow:
        instance = uow.session.scalars(select(ProcessInstance)).one()
        number = uow.session.scalars(select(ServiceRequest.number)).one()
        combos = [(role, group) for role, _, _ in ROLES for group, _ in PROVIDER_GROUPS] + [(None, "network")]
        for i, (role, group) in enumerate(combos):
            uow.session.add(TaskRow(
                task_uuid=f"00000000-0000-0000-0000-{i:012d}", instance_id=instance.id,
                request_id=instance.request_id, bpmn_id=f"task_{i}", process_id="p", name=f"Task {i}", lane=role,
                role_code=role, provider_group=group, priority="high", request_number=number,
                request_title="t", agency="a", status="open", created_at=clock.now()))
        uow.commit()
    checked = 0
    identities = [auth.load_identity(services, username) for username, _, _ in DEMO_USERS]
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(TaskRow).where(TaskRow.status == "open")))
        for identity in identities:
            for who in (identity, replace(identity, grants=frozenset())):
                by_sql = set(uow.session.scalars(select(TaskRow.task_uuid).where(
                    TaskRow.status == "open", visible_to(who))))
                by_python = {r.task_uuid for r in rows if may_work_on(who, r.role_code, r.provider_group)}
                assert by_sql == by_python, who.username
                checked += len(rows)
    assert checked > 200
