"""Saved request-list filters: a user names the Requests page's current query string and gets it back as a link.

Per user (nobody sees another's), stored as the query string of the page's own parameters (others and the page
number are dropped, so a saved filter opens on its first page). A saved filter is only a link: opening it runs the
search as whoever opens it, under their own need-to-know.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.permissions import Identity
from app.errors import Conflict, FieldError, InvalidData, NotFound
from app.services.context import Context
from app.store.models import SavedFilter, User

PARAMETERS = ("q", "group", "type", "status", "priority", "sla", "created_from", "created_to", "closed_from",
              "closed_to", "sort", "per_page")
NAME_MAX = 80
QUERY_MAX = 2000
PER_USER_MAX = 50


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    query: str


def query_string(pairs: list[tuple[str, str]]) -> str:
    """The list's own, non-empty parameters of `pairs`, in a stable order, as a query string."""
    kept = {k: v for k, v in pairs if k in PARAMETERS and v.strip()}
    return urlencode([(k, kept[k]) for k in PARAMETERS if k in kept])


def _user(session: Session, identity: Identity) -> User:
    user = session.scalars(select(User).where(User.username == identity.username)).one_or_none()
    if user is None:
        raise NotFound(f"no user {identity.username!r}")
    return user


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidData("bad name", [FieldError("name", "give the filter a name")])
    if len(name) > NAME_MAX:
        raise InvalidData("bad name", [FieldError("name", f"at most {NAME_MAX} characters")])
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidData("bad name", [FieldError("name", "must not contain control characters")])
    return name


def list_saved(services: Context, identity: Identity) -> list[SavedView]:
    with services.uow() as uow:
        user = _user(uow.session, identity)
        return [SavedView(f.id, f.name, f.query) for f in uow.session.scalars(
            select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name, SavedFilter.id))]


def save(services: Context, identity: Identity, name: str, query: str) -> SavedView:
    """Save `query` (a query string of the Requests page) as `name` for `identity`."""
    name = _name(name)
    if "\x00" in query:
        raise InvalidData("bad filter", [FieldError("query", "must not contain a NUL character")])
    kept = query_string(parse_qsl(query, keep_blank_values=False))
    if len(kept) > QUERY_MAX:
        raise InvalidData("bad filter", [FieldError("query", f"at most {QUERY_MAX} characters")])
    with services.uow() as uow:
        s = uow.session
        user = _user(s, identity)
        mine = select(SavedFilter).where(SavedFilter.user_id == user.id)
        if s.scalars(mine.where(SavedFilter.name == name)).first() is not None:
            raise Conflict(f"You already have a saved filter named “{name}”; choose another name or delete it first.")
        if (s.scalar(select(func.count()).select_from(mine.subquery())) or 0) >= PER_USER_MAX:
            raise InvalidData("too many saved filters",
                              [FieldError("name", f"at most {PER_USER_MAX} saved filters: delete one first")])
        saved = SavedFilter(user_id=user.id, name=name, query=kept)
        s.add(saved)
        s.flush()
        view = SavedView(saved.id, saved.name, saved.query)
        uow.commit()
        return view


def delete(services: Context, identity: Identity, filter_id: int) -> SavedView:
    """Delete one of `identity`'s saved filters (another user's is not found)."""
    with services.uow() as uow:
        s = uow.session
        user = _user(s, identity)
        saved = s.scalars(select(SavedFilter).where(SavedFilter.id == filter_id,
                                                    SavedFilter.user_id == user.id)).one_or_none()
        if saved is None:
            raise NotFound(f"no saved filter {filter_id}")
        view = SavedView(saved.id, saved.name, saved.query)
        s.delete(saved)
        uow.commit()
        return view
