"""The sequence-flow graph checks: unreachable elements, gateways without complete conditions or a default, and
loops no gateway can leave, each located by file, element id, name and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import compile_bundle
from app.engine.bpmn_lint import lint
from app.engine.xml_safety import parse_xml
from app.errors import DefinitionRejected

ROOT = Path(__file__).resolve().parents[2]
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="http://example.org">\n<bpmn:process id="p" isExecutable="true">\n')
TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def model(body: str) -> dict[str, object]:
    return {"m.bpmn": parse_xml((HEAD + body + TAIL).encode())}


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />\n'
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>\n')


def findings(body: str) -> list[tuple[str, str, str]]:
    return [(p.severity, p.element_id, p.message) for p in lint(model(body))]  # type: ignore[arg-type]


def test_a_straight_line_from_start_to_end_has_no_findings():
    assert findings('<bpmn:startEvent id="s" />\n<bpmn:task id="t" name="Do it" />\n<bpmn:endEvent id="e" />\n'
                    + flow("f1", "s", "t") + flow("f2", "t", "e")) == []


def test_a_task_no_flow_reaches_is_an_error_with_its_name_and_line():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:endEvent id="e" />\n'
            '<bpmn:task id="orphan" name="Forgotten step" />\n' + flow("f1", "s", "e"))
    [problem] = lint(model(body))  # type: ignore[arg-type]
    assert (problem.severity, problem.file, problem.element_id, problem.name) == \
        ("error", "m.bpmn", "orphan", "Forgotten step")
    assert problem.line == 6 and "unreachable" in problem.message


def test_a_boundary_event_is_reached_with_the_activity_it_sits_on():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:task id="t" />\n<bpmn:endEvent id="e" />\n'
            '<bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false" />\n'
            '<bpmn:endEvent id="late" />\n' + flow("f1", "s", "t") + flow("f2", "t", "e") + flow("f3", "b", "late"))
    assert findings(body) == []


def test_a_gateway_flow_without_condition_that_is_not_the_default_is_an_error():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:exclusiveGateway id="g" name="Approved?" />\n'
            '<bpmn:endEvent id="yes" />\n<bpmn:endEvent id="no" name="Rejected" />\n'
            + flow("f0", "s", "g") + flow("f_yes", "g", "yes", "approved") + flow("f_no", "g", "no"))
    [(severity, element_id, message)] = findings(body)
    assert (severity, element_id) == ("error", "g")
    assert "f_no (to no (Rejected))" in message and "no condition" in message and "default" in message


def test_a_gateway_whose_flows_all_have_conditions_but_no_default_is_a_warning():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:inclusiveGateway id="g" />\n'
            '<bpmn:endEvent id="a" />\n<bpmn:endEvent id="b" />\n'
            + flow("f0", "s", "g") + flow("fa", "g", "a", "x > 1") + flow("fb", "g", "b", "x &lt;= 1"))
    [(severity, element_id, message)] = findings(body)
    assert (severity, element_id) == ("warning", "g") and "no default flow" in message


def test_a_gateway_with_a_default_flow_and_conditions_on_the_others_is_fine():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:exclusiveGateway id="g" default="fb" />\n'
            '<bpmn:endEvent id="a" />\n<bpmn:endEvent id="b" />\n'
            + flow("f0", "s", "g") + flow("fa", "g", "a", "x > 1") + flow("fb", "g", "b"))
    assert findings(body) == []


def test_a_cycle_without_a_gateway_is_an_unbounded_loop():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:task id="work" name="Work" />\n<bpmn:task id="rework" name="Rework" />\n'
            + flow("f0", "s", "work") + flow("f1", "work", "rework") + flow("f2", "rework", "work"))
    [(severity, element_id, message)] = findings(body)
    assert (severity, element_id) == ("error", "work")
    assert "unbounded loop" in message and "work (Work) → rework (Rework)" in message


def test_a_cycle_a_gateway_can_leave_is_not_a_loop_finding():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:task id="work" />\n<bpmn:exclusiveGateway id="ok" default="done" />\n'
            '<bpmn:endEvent id="e" />\n' + flow("f0", "s", "work") + flow("f1", "work", "ok")
            + flow("again", "ok", "work", "not passed") + flow("done", "ok", "e"))
    assert findings(body) == []


def test_an_unreachable_element_inside_a_sub_process_is_found_in_its_own_scope():
    body = ('<bpmn:startEvent id="s" />\n<bpmn:subProcess id="sub">\n<bpmn:startEvent id="ss" />\n'
            '<bpmn:endEvent id="se" />\n<bpmn:task id="stray" />\n' + flow("g1", "ss", "se")
            + '</bpmn:subProcess>\n<bpmn:endEvent id="e" />\n' + flow("f0", "s", "sub") + flow("f1", "sub", "e"))
    assert [(s, i) for s, i, _ in findings(body)] == [("error", "stray")]


def test_the_bundled_process_has_no_graph_findings():
    roots = {p.name: parse_xml(p.read_bytes()) for p in sorted((ROOT / "bpmn").glob("*.bpmn"))}
    assert lint(roots) == []  # type: ignore[arg-type]


def test_a_graph_error_blocks_the_compile_and_names_the_element():
    xml = (HEAD + '<bpmn:startEvent id="s" />\n<bpmn:scriptTask id="calc" name="Calculate"><bpmn:script>a = 1'
           '</bpmn:script></bpmn:scriptTask>\n<bpmn:endEvent id="e" />\n<bpmn:endEvent id="never" name="Never" />\n'
           + flow("f0", "s", "calc") + flow("f1", "calc", "e") + TAIL)
    with pytest.raises(DefinitionRejected) as refused:
        compile_bundle({"m.bpmn": xml.encode()}, operators=set(), lanes=None, forms={})
    [problem] = refused.value.problems
    assert (problem.element_id, problem.name, problem.severity) == ("never", "Never", "error")
