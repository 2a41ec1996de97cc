"""The full-text index of requests: one row per request in `request_search`, kept in step by the service layer.

On SQLite it is an FTS5 table (rowid = the request's id; columns `head` = number and title, `body` = description,
agency, requester name and email, CRM case, `notes` = staff notes from completed tasks). On
PostgreSQL it is a plain table with the same three text columns and a generated, weighted `tsvector` (`document`:
head A, body B, notes C) under a GIN index. Both hold the words of `app.domain.search_terms`
(already normalised), so both engines tokenise the same text the same way and a query is only ever plain words.
Relevance is a tier (see `matching`), the same on both.

The index is written in the same transaction as the request (`refresh` when a request is logged, `add_notes` when a
task completes), not by triggers: the notes come from task data the database never sees as columns, and one
Python function for both databases is simpler to keep right than two trigger dialects. Migration 0015 builds it for
the requests that existed before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from app.domain.search_terms import normalised, notes_of
from app.store.models import ServiceRequest

TABLE = "request_search"


def head_and_body(request: ServiceRequest) -> tuple[str, str]:
    """The indexed text of a request's own fields (its number and title weigh most)."""
    return (normalised(request.number, request.title),
            normalised(request.description, request.agency, request.requester_name, request.requester_email,
                       request.crm_case_id))


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def refresh(session: Session, request: ServiceRequest) -> None:
    """Index `request` as it is now (its notes so far are kept). Call after a write to its fields, in its
    transaction, once it has its number."""
    session.flush()
    head, body = head_and_body(request)
    values = {"id": request.id, "head": head, "body": body}
    if _postgresql(session):
        session.execute(text(
            f"INSERT INTO {TABLE} (request_id, head, body, notes) VALUES (:id, :head, :body, '') "
            "ON CONFLICT (request_id) DO UPDATE SET head = excluded.head, body = excluded.body"), values)
        return
    notes = session.execute(text(f"SELECT notes FROM {TABLE} WHERE rowid = :id"), values).scalar()
    session.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), values)
    session.execute(text(f"INSERT INTO {TABLE} (rowid, head, body, notes) VALUES (:id, :head, :body, :notes)"),
                    values | {"notes": notes or ""})


def add_notes(session: Session, request_id: int, data: Any) -> None:
    """Add the staff notes of a completed task's `data` (see search_terms.NOTE_FIELDS) to its request's entry."""
    notes = notes_of(data) if isinstance(data, dict) else ""
    if not notes:
        return
    values = {"id": request_id, "notes": notes}
    if _postgresql(session):
        session.execute(text(f"UPDATE {TABLE} SET notes = trim(notes || ' ' || :notes) WHERE request_id = :id"),
                        values)
        return
    row = session.execute(text(f"SELECT head, body, notes FROM {TABLE} WHERE rowid = :id"), values).one_or_none()
    if row is None:
        return
    session.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), values)
    session.execute(text(f"INSERT INTO {TABLE} (rowid, head, body, notes) VALUES (:id, :head, :body, :notes)"),
                    {"id": request_id, "head": row.head, "body": row.body, "notes": f"{row.notes} {notes}".strip()})


def matching(session: Session, terms: list[str], *, ranked: bool) -> Subquery:
    """(request_id, rank) of the requests holding every term as a word prefix. `rank` (when `ranked`; 0 otherwise)
    is the best match tier: 0 when every term is in the number or title, 1 when every term is there or in the
    description, agency, requester or CRM case, 2 when the notes were needed. Tiers rather than bm25/ts_rank: both
    of those read every match's statistics (tens of milliseconds for a common word at 100,000 requests), a tier is
    one more index lookup, and "title first, then the rest, newest first within" is easy to predict.
    `terms` must come from `search_terms.terms` (plain words: nothing in them is an operator)."""
    if _postgresql(session):
        def tsquery(weights: str) -> str:
            return " & ".join(f"'{t}':*{weights}" for t in terms)

        rank = ("CASE WHEN document @@ to_tsquery('simple', :head) THEN 0 "
                "WHEN document @@ to_tsquery('simple', :head_body) THEN 1 ELSE 2 END") if ranked else "0"
        sql = f"SELECT request_id, {rank} AS rank FROM {TABLE} WHERE document @@ to_tsquery('simple', :match)"
        values = {"match": tsquery(""), "head": tsquery("A"), "head_body": tsquery("AB")}
    else:
        words = " ".join(f'"{t}"*' for t in terms)
        rank = (f"CASE WHEN rowid IN (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :head) THEN 0 "
                f"WHEN rowid IN (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :head_body) THEN 1 ELSE 2 END"
                if ranked else "0")
        sql = f"SELECT rowid AS request_id, {rank} AS rank FROM {TABLE} WHERE {TABLE} MATCH :match"
        values = {"match": words, "head": f"{{head}} : ({words})", "head_body": f"{{head body}} : ({words})"}
    query = text(sql).bindparams(**{k: v for k, v in values.items() if ranked or k == "match"})
    return query.columns(request_id=Integer, rank=Integer).subquery("found")
