"""Handler logic that needs no database: amounts, parameter checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers import REGISTRY
from handlers.base import InvalidParams, require_number, require_text
from handlers.billing import billing_amount


@pytest.mark.parametrize(("hours", "rate", "amount"), [
    (12.5, 85, "1062.50"), (0.25, 93.33, "23.33"), (1.005, 100, "100.50"), (7, 0.1, "0.70"),
])
def test_billing_amount_is_hours_times_rate_rounded_half_up_to_cents(hours, rate, amount):
    assert billing_amount(hours, rate) == Decimal(amount)


def test_parameter_checks_name_the_parameter():
    with pytest.raises(InvalidParams, match="case_id"):
        require_text({"case_id": "  "}, "case_id")
    with pytest.raises(InvalidParams, match="hourly_rate"):
        require_number({"hourly_rate": True}, "hourly_rate")
    assert require_number({"h": 2}, "h") == 2.0


def test_every_operator_in_the_bundled_models_has_a_handler():
    from pathlib import Path

    from lxml import etree

    operators = set()
    for path in Path("bpmn").glob("*.bpmn"):
        for el in etree.parse(str(path)).iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}serviceTaskOperator"):
            operators.add(el.get("id"))
    assert operators and operators <= set(REGISTRY)
