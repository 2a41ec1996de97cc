"""API tokens: a token acts with its user's roles and is named in the audit; only its hash is stored; revoked,
expired and deactivated tokens sign nobody in (401 problem); owners and administrators manage them, nobody else.
Cookie-signed-in API calls still need the CSRF header; bearer calls do not."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from app.errors import Forbidden, NotFound
from app.services.admin import api_tokens, auth
from app.services.admin import users as user_admin
from app.store.models import ApiToken, AuditEvent, ServiceRequest
from tests.api.client import Api, is_problem
from tests.driver import REQUEST
from tests.web import WebUser


def requests_count(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ServiceRequest)))


def test_a_token_acts_as_its_user_and_every_write_names_it(services):
    api = Api(services, "maria", name="CRM sync")
    created = api.post("/api/v1/requests", {"request_type": "assistance", "data": REQUEST})
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    with services.uow() as uow:
        events = [(e.actor, e.payload) for e in uow.session.scalars(
            select(AuditEvent).join(ServiceRequest, ServiceRequest.id == AuditEvent.request_id)
            .where(ServiceRequest.number == number))]
        stored = uow.session.scalars(select(ApiToken)).one()
        kept = [stored.token_hash, stored.prefix, stored.name]
        via = f"API token 'CRM sync' (#{stored.id})"
    assert events and all(actor == "maria" for actor, _ in events)
    assert all(payload["via"] == via for _, payload in events), events
    assert api.token not in json.dumps(kept) and len(kept[0]) == 64
    # a page view afterwards is not "via" the token (the marker lasts one call)
    web = WebUser(services, "maria")
    assert web.post(f"/requests/{number}/replay").status_code in (200, 302, 303)
    with services.uow() as uow:
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert last.event_type != "request_created" and "via" not in last.payload


def test_without_a_valid_token_the_api_answers_401_problem_and_changes_nothing(services, clock):
    api = Api(services, "maria")
    before = requests_count(services)
    anonymous = Api(services, None, client=api.client)
    for response in (anonymous.get("/api/v1/requests"),
                     anonymous.post("/api/v1/requests", {"request_type": "assistance", "data": REQUEST}),
                     api.client.get("/api/v1/tasks", headers={"Authorization": "Basic bWFyaWE6ZGVtbw=="}),
                     api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer rf_not-a-token"}),
                     api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer "})):
        body = is_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), body
    admin = auth.load_identity(services, "adam")
    revoked = Api(services, "maria", name="to revoke")
    api_tokens.revoke(services, admin, revoked.view.id)
    assert "revoked" in is_problem(revoked.get("/api/v1/tasks"), 401)["detail"]
    clock.advance(timedelta(days=api_tokens.DEFAULT_DAYS, seconds=1))
    assert "expired" in is_problem(api.get("/api/v1/tasks"), 401)["detail"]
    fresh = Api(services, "sam", name="sam's script")
    assert fresh.get("/api/v1/tasks").status_code == 200
    user_admin.set_active(services, admin, "sam", False)
    assert "deactivated" in is_problem(fresh.get("/api/v1/tasks"), 401)["detail"]
    assert requests_count(services) == before


def test_owners_and_administrators_manage_tokens_nobody_else(services):
    maria, sam, adam = (auth.load_identity(services, u) for u in ("maria", "sam", "adam"))
    _, mine = api_tokens.create(services, maria, "mine")
    _, sams = api_tokens.create(services, sam, "sam's")
    assert [t.name for t in api_tokens.list_tokens(services, maria)] == ["mine"]
    assert {t.name for t in api_tokens.list_tokens(services, adam)} == {"mine", "sam's"}
    for refused in (lambda: api_tokens.create(services, maria, "for sam", owner="sam"),
                    lambda: api_tokens.create(services, maria, "svc", kind="service")):
        try:
            refused()
        except Forbidden:
            pass
        else:
            raise AssertionError("created a token it may not")
    try:
        api_tokens.revoke(services, maria, sams.id)
    except NotFound:
        pass
    else:
        raise AssertionError("revoked someone else's token")
    assert api_tokens.revoke(services, adam, sams.id).state == "revoked"
    secret, svc = api_tokens.create(services, adam, "CRM integration", owner="maria", kind="service", days=30)
    assert (svc.kind, svc.owner, svc.state) == ("service", "maria", "active") and secret.startswith("rf_")
    assert api_tokens.revoke(services, maria, mine.id).state == "revoked"


def test_the_tokens_page_shows_a_new_secret_once_and_revokes(services):
    web = WebUser(services, "maria")
    page = web.post("/account/tokens", {"name": "weekly report", "days": "30"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    secret = text.split('id="new-token" readonly value="')[1].split('"')[0]
    assert secret.startswith("rf_") and "shown only once" in text
    again = web.get("/account/tokens").get_data(as_text=True)
    assert "weekly report" in again and secret not in again
    api = Api(services, None)
    api.token = secret
    assert api.get("/api/v1/tasks").status_code == 200
    bad = web.post("/account/tokens", {"name": "", "days": "30"})
    assert bad.status_code == 422 and "name" in bad.get_data(as_text=True)
    assert web.post("/account/tokens", {"name": "x", "days": "999"}).status_code == 422
    assert web.post("/account/tokens", {"name": "x", "kind": "service"}).status_code == 403
    [token] = api_tokens.list_tokens(services, auth.load_identity(services, "maria"))
    assert web.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert api.get("/api/v1/tasks").status_code == 401
    assert WebUser(services, "sam").post(f"/account/tokens/{token.id}/revoke").status_code == 404


def test_signed_in_pages_calling_the_api_need_the_csrf_header(services):
    web = WebUser(services, "maria")
    body = {"request_type": "assistance", "data": REQUEST}
    before = requests_count(services)
    refused = web.client.post("/api/v1/requests", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["detail"]
    assert requests_count(services) == before
    done = web.client.post("/api/v1/requests", json=body, headers={"X-CSRF-Token": web.token})
    assert done.status_code == 201, done.get_json()
    # a bearer call carries no cookie session, so it needs no CSRF token
    assert Api(services, "maria").post("/api/v1/requests", body).status_code == 201
