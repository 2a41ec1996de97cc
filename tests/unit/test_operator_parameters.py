"""The parameter specs the modeler's panel offers agree with the handlers and the bundled processes: every operator
of the registry has one, every parameter a bundled process passes is declared with its type, and a handler called
without a parameter the spec calls required refuses the call naming it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from handlers import REGISTRY, Clients, HandlerContext, InvalidParams
from handlers.parameters import PARAMETERS, operator_specs

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
SAMPLE = {"str": "2026-12-01", "float": 2.0, "bool": True}


class _AnySystem:
    """A client of any external system that accepts every call (the handler's own checks come first)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: ["someone@example.org"]


def test_every_operator_of_the_registry_has_a_parameter_spec():
    assert set(PARAMETERS) == set(REGISTRY)
    assert operator_specs(["crm.add_note", "no.such"]) == {
        "crm.add_note": [{"name": "case_id", "type": "str", "required": True},
                         {"name": "note", "type": "str", "required": True}],
        "no.such": []}


def test_every_parameter_a_bundled_process_passes_is_declared_with_its_type():
    for path in BPMN.glob("*.bpmn"):
        for operator in etree.parse(str(path)).iter(f"{SPIFF}serviceTaskOperator"):
            declared = {p.name: p.type for p in PARAMETERS[operator.get("id")]}
            for parameter in operator.iter(f"{SPIFF}parameter"):
                assert declared.get(parameter.get("id")) == parameter.get("type"), (path.name, operator.get("id"),
                                                                                    parameter.get("id"))


@pytest.mark.parametrize("operator", sorted(PARAMETERS))
def test_a_handler_called_without_a_required_parameter_refuses_naming_it(operator):
    clients = Clients(*[_AnySystem()] * 6)  # type: ignore[arg-type]
    context = HandlerContext(idempotency_key="k", now=datetime(2026, 12, 1, tzinfo=UTC), clients=clients)
    complete: dict[str, Any] = {p.name: SAMPLE[p.type] for p in PARAMETERS[operator]}
    if operator == "notify.customer":
        complete["to"], complete["template"] = "customer@example.org", "customer_question"
    REGISTRY[operator](complete, context)  # every declared parameter given: accepted
    for missing in [p for p in PARAMETERS[operator] if p.required]:
        params = {name: value for name, value in complete.items() if name != missing.name}
        with pytest.raises(InvalidParams, match=missing.name):
            REGISTRY[operator](params, context)
