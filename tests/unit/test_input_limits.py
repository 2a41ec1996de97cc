"""The bounds on typed input (app/domain/input_limits.py): record numbers and JSON nesting."""

from __future__ import annotations

import pytest

from app.domain.input_limits import MAX_JSON_DEPTH, MAX_RECORD_NUMBER, JsonTooDeep, json_depth, loads, record_number


@pytest.mark.parametrize("text, number", [
    ("1", 1), (" 42 ", 42), (str(MAX_RECORD_NUMBER), MAX_RECORD_NUMBER), ("0007", 7),
    ("0", None), ("-1", None), (str(MAX_RECORD_NUMBER + 1), None), ("99999999999999999999999", None),
    ("\u0661", None), ("\u00b2", None), ("1e3", None), ("", None), (None, None), ("0x10", None), ("1_000", None),
])
def test_a_record_number_is_ascii_digits_within_the_integer_column(text, number):
    assert record_number(text) == number


def test_json_depth_counts_nesting_without_recursion():
    assert (json_depth(1), json_depth([]), json_depth({"a": [1, {"b": []}]})) == (0, 1, 4)
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    assert json_depth(nested) == 100_001


def test_loads_refuses_deep_nesting_as_a_value_error_at_any_depth():
    assert loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    for levels in (MAX_JSON_DEPTH + 1, 999, 100_000):
        with pytest.raises(JsonTooDeep, match=f"nested more than {MAX_JSON_DEPTH} levels deep"):
            loads("[" * levels + "]" * levels)
    assert issubclass(JsonTooDeep, ValueError)  # callers that catch ValueError for bad JSON catch this too
