"""How typed text becomes search words (app/domain/search_terms.py): the same words on both databases, no operator
of either engine ever survives, and a request number is recognised however it is typed."""

from __future__ import annotations

from app.domain.search_terms import MAX_TERM_LENGTH, MAX_TERMS, normalised, notes_of, request_number, terms


def test_words_are_lower_cased_runs_of_letters_and_digits():
    assert normalised("RF-000123", "VPN access", None, "ann@tourism.example") == \
        "rf 000123 vpn access ann tourism example"
    assert terms('"vpn" AND (printer*) NEAR:3 -x ^y vpn') == ["vpn", "and", "printer", "near", "3", "x", "y"]
    assert terms("a\x00b ñandú_x 🚀") == ["a", "b", "ñandú", "x"]
    assert terms("'\";:*()") == []


def test_queries_are_bounded():
    assert len(terms(" ".join(f"w{i}" for i in range(100)))) == MAX_TERMS
    assert terms("x" * 1000) == ["x" * MAX_TERM_LENGTH]


def test_a_request_number_is_recognised_however_it_is_typed():
    for typed in ("RF-000123", "rf-123", " RF123 ", "123", "000123"):
        assert request_number(typed) == "RF-000123", typed
    for typed in ("RF-", "vpn 123", "12.5", "", "RF-1a"):
        assert request_number(typed) is None, typed


def test_notes_are_the_note_fields_of_a_task():
    assert notes_of({"resolution_notes": "Replaced TONER", "specialist": "sam", "time_spent_hours": 2,
                     "test_notes": None}) == "replaced toner"
