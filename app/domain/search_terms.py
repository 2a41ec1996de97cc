"""What the request search indexes and how typed text becomes search terms (pure: no database).

Both databases index the same normalised words: every run of letters and digits, lower-cased, with everything else
(punctuation, `@`, `-`, quotes, FTS operators, NUL) a separator. So `RF-000123` is the words `rf` and `000123`,
`ann@tourism.example` is `ann`, `tourism` and `example`, and a query can never carry an operator of either engine:
hostile text is only ever a list of plain words, each searched as a prefix (typing `vpn` finds "VPN", `RF-00` finds
the numbers starting so), all of them required.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_TERMS = 12  # words of a query that count (the rest are ignored: no query is unbounded)
MAX_TERM_LENGTH = 64
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"^\s*(?:RF-?)?0*(\d{1,12})\s*$", re.IGNORECASE)

# The task form fields that are staff notes: searched with the request once the task that holds them completes.
NOTE_FIELDS = ("assignment_note", "fulfilment_notes", "resolution_notes", "test_notes", "billing_notes",
               "customer_reply", "need_summary", "proposal_summary")


def words(text: str) -> list[str]:
    """The indexable words of `text`, in order (lower-cased runs of letters and digits)."""
    return [w.lower() for w in _WORD.findall(text.replace("\x00", " "))]


def normalised(*parts: str | None) -> str:
    """`parts` as the index stores them: their words separated by single spaces."""
    return " ".join(w for part in parts if part for w in words(part))


def terms(query: str) -> list[str]:
    """The distinct search terms of a typed query (at most MAX_TERMS, each cut at MAX_TERM_LENGTH)."""
    found: list[str] = []
    for word in words(query):
        word = word[:MAX_TERM_LENGTH]
        if word not in found:
            found.append(word)
        if len(found) == MAX_TERMS:
            break
    return found


def request_number(query: str) -> str | None:
    """The request number a query names exactly (`RF-000123`, `rf-123`, `123`), or None."""
    match = _NUMBER.match(query.replace("\x00", ""))
    return f"RF-{int(match.group(1)):06d}" if match else None


def notes_of(data: Mapping[str, Any]) -> str:
    """The staff notes in a completed task's data (NOTE_FIELDS that hold text)."""
    return normalised(*(str(data[f]) for f in NOTE_FIELDS if isinstance(data.get(f), str)))


def joined(parts: Iterable[str]) -> str:
    return " ".join(p for p in parts if p)
