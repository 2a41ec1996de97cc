"""The full-text index of requests, kept in step by the service layer in the request's own transaction.

Both databases index the words of `app.domain.search_terms` (already normalised, so both tokenise the same text
the same way and a query is only ever plain words) in three weighted parts: the head (number and title), the body
(description, agency, requester name and email, CRM case) and the notes (staff notes from completed tasks).

* SQLite: an FTS5 table `request_search(head, body, notes)` whose rowid is the request's id, with prefix indexes.
* PostgreSQL: a `tsvector` column `service_request.search_document` (head weight A, body B, notes C) under a GIN
  index. On the request row itself, not a side table: a search then reads only the rows it filters, with no join.
  Not a generated column, because the notes are not columns of the request; the tsvector keeps them (weight C)
  when the head and body are indexed again.

Written by `refresh` when a request is logged and `add_words` when a task completes (on PostgreSQL by the instance
save's statement, `adding_notes`), not by triggers: the notes come from task data the database never sees as
columns, and one Python function per event is simpler to keep right than trigger code in two dialects. Migration
0015 builds the index for the requests that existed before.

Relevance is a tier, the same on both (see `search`): bm25 and ts_rank read every match's statistics (tens of
milliseconds for a common word at 100,000 requests), a tier costs one more index lookup, and "number and title
first, then the rest, newest first within each" is easy to predict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, case, func, literal, literal_column, or_, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import column, table

from app.domain.search_terms import normalised, notes_of
from app.store.models import ServiceRequest

TABLE = "request_search"  # SQLite
COLUMN = "search_document"  # PostgreSQL
_DOCUMENT = (f"setweight(to_tsvector('simple', :head), 'A') || setweight(to_tsvector('simple', :body), 'B') || "
             f"ts_filter(coalesce({COLUMN}, ''::tsvector), '{{c}}')")


def head_and_body(request: ServiceRequest) -> tuple[str, str]:
    """The indexed text of a request's own fields (its number and title weigh most)."""
    return (normalised(request.number, request.title),
            normalised(request.description, request.agency, request.requester_name, request.requester_email,
                       request.crm_case_id))


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def refresh(session: Session, request: ServiceRequest, *, new: bool = False) -> None:
    """Index `request` as it is now (its notes so far are kept). Call after a write to its fields, in its
    transaction, once it has its number; `new`: it was inserted in this transaction (never indexed)."""
    session.flush()
    head, body = head_and_body(request)
    values = {"id": request.id, "head": head, "body": body}
    connection = session.connection()
    if _postgresql(session):
        connection.execute(_REFRESH_PG, values)
        return
    if new or connection.execute(_REFRESH, values).rowcount == 0:  # not indexed yet (a new request): no notes so far
        connection.execute(_INDEX, values | {"notes": ""})


_REFRESH_PG = text(f"UPDATE service_request SET {COLUMN} = {_DOCUMENT} WHERE id = :id")
_REFRESH = text(f"UPDATE {TABLE} SET head = :head, body = :body WHERE rowid = :id")  # FTS5 re-indexes the row
_INDEX = text(f"INSERT INTO {TABLE} (rowid, head, body, notes) VALUES (:id, :head, :body, :notes)")
_APPEND_NOTES = text(f"UPDATE {TABLE} SET notes = trim(notes || ' ' || :notes) WHERE rowid = :id")
_APPEND_NOTES_PG = text(f"UPDATE service_request SET {COLUMN} = coalesce({COLUMN}, ''::tsvector) || "
                        "setweight(to_tsvector('simple', :notes), 'C') WHERE id = :id")


def notes_in(data: Any) -> str:
    """The staff notes of a completed task's `data` (see search_terms.NOTE_FIELDS), as `add_words` takes them."""
    return notes_of(data) if isinstance(data, dict) else ""


# PostgreSQL: the notes added by another write's statement (a data-modifying WITH), so that they cost no round trip.
_DOCUMENTS = table("service_request", column("id"), column(COLUMN))
_NOTES_ADDED = (update(_DOCUMENTS).where(_DOCUMENTS.c.id == bindparam("notes_request_id"))
                .values({COLUMN: func.coalesce(_DOCUMENTS.c[COLUMN], literal_column("''::tsvector")).op("||")(
                    func.setweight(func.to_tsvector(literal_column("'simple'"), bindparam("notes")),
                                   literal_column("'C'")))})
                .cte("notes_added"))


def adding_notes(statement: Any) -> Any:
    """PostgreSQL: the DML `statement` that also adds the words bound as `notes` (already `normalised`, not empty)
    to the entry of the request bound as `notes_request_id`, as `add_words` would."""
    return statement.add_cte(_NOTES_ADDED)


def adds_notes_with_a_write(session: Session) -> bool:
    """Whether a write may carry the notes (`adding_notes`) instead of `add_words` doing it alone."""
    return _postgresql(session)


def add_words(session: Session, request_id: int, notes: str) -> None:
    """Add `notes` (already `normalised`: an internal note, a customer's reply) to its request's notes part."""
    if not notes:
        return
    values = {"id": request_id, "notes": notes}
    connection = session.connection()  # Core: nothing of the session's is read or written
    if _postgresql(session):
        connection.execute(_APPEND_NOTES_PG, values)
        return
    connection.execute(_APPEND_NOTES, values)  # FTS5 re-indexes the row itself; no row (not indexed): nothing


def counts_with_the_page(session: Session) -> bool:
    """Whether a search's total is best counted in the same pass as its page (a window count). On SQLite yes: the
    FTS5 match then runs once. Not on PostgreSQL: its planner does not see that a window count reads every row, so
    it walks the primary key backwards testing every request; a separate count uses the GIN index, and the page
    alone stops after a page of matches."""
    return not _postgresql(session)


def search(session: Session, terms: list[str], number: str | None
           ) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """A WHERE clause on service_request keeping the requests that hold every term as a word prefix (or are
    numbered `number`), and their rank: -1 for the request numbered `number`, 0 when every term is in the number or
    title, 1 when every term is there or in the description, agency, requester or CRM case, 2 when the notes were
    needed. `terms` must come from `search_terms.terms` (plain words: nothing in them is an operator)."""
    if _postgresql(session):
        document: ColumnElement[Any] = literal_column(f"service_request.{COLUMN}")

        def matches(weights: str) -> ColumnElement[bool]:
            query = " & ".join(f"'{t}':*{weights}" for t in terms)
            return document.bool_op("@@")(func.to_tsquery(literal_column("'simple'"), literal(query)))

        found, head, head_body = matches(""), matches("A"), matches("AB")
    else:
        words = " ".join(f'"{t}"*' for t in terms)

        def fts(query: str, name: str) -> ColumnElement[bool]:  # one bound name per MATCH of the statement
            rows = text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :{name}").bindparams(**{name: query})
            return ServiceRequest.id.in_(rows.columns(rowid=Integer))

        found, head, head_body = (fts(words, "fts_all"), fts(f"{{head}} : ({words})", "fts_head"),
                                  fts(f"{{head body}} : ({words})", "fts_head_body"))
    tier = case((head, 0), (head_body, 1), else_=2)
    if number is None:
        return found, tier
    exact = ServiceRequest.number == number
    return or_(found, exact), case((exact, -1), else_=tier)
