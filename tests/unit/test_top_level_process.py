"""Which process a bundle deploys, and what the owner is told when it is not clear: a process marked not executable
(how most modelling tools export one that was only drawn) names itself, its line and the box to tick; a pool with
nothing in it (a participant such as the customer) is not a second process; two real top-level processes are listed
by name."""

from __future__ import annotations

import pytest

from app.engine import compile_bundle
from app.errors import DefinitionRejected

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org"')
LINE = ('<bpmn:startEvent id="{p}_s" /><bpmn:task id="{p}_t" name="Do it" /><bpmn:endEvent id="{p}_e" />'
        '<bpmn:sequenceFlow id="{p}_f1" sourceRef="{p}_s" targetRef="{p}_t" />'
        '<bpmn:sequenceFlow id="{p}_f2" sourceRef="{p}_t" targetRef="{p}_e" />')


def process(pid: str, name: str, executable: str | None, body: str = "") -> str:
    flag = f' isExecutable="{executable}"' if executable is not None else ""
    return f'\n<bpmn:process id="{pid}" name="{name}"{flag}>{body}</bpmn:process>'


def bundle(*processes: str, collaboration: str = "") -> dict[str, bytes]:
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS}>{collaboration}{"".join(processes)}\n' \
          '</bpmn:definitions>\n'
    return {"drawn.bpmn": xml.encode()}


def refusal(files: dict[str, bytes]) -> list[tuple[str, str, int | None, str]]:
    with pytest.raises(DefinitionRejected) as refused:
        compile_bundle(files, operators=set(), lanes=None, forms={})
    return [(p.element_id, p.name, p.line, p.message) for p in refused.value.problems]


def test_a_process_marked_not_executable_is_named_with_its_line_and_the_box_to_tick():
    [(element, name, line, message)] = refusal(bundle(process("order", "Order handling", "false",
                                                              LINE.format(p="o"))))
    assert (element, name, line) == ("order", "Order handling", 3)
    assert "process 'Order handling' (order) is marked not executable" in message
    assert "tick Executable" in message and "every process is called" not in message


def test_an_empty_participant_pool_beside_the_main_process_is_not_a_second_process():
    pools = ('\n<bpmn:collaboration id="c"><bpmn:participant id="p1" name="OMES" processRef="main" />'
             '<bpmn:participant id="p2" name="Customer" processRef="customer" /></bpmn:collaboration>')
    compiled = compile_bundle(bundle(process("main", "Fulfil", "true", LINE.format(p="m")),
                                     process("customer", "Customer", "true"), collaboration=pools),
                              operators=set(), lanes=None, forms={})
    assert compiled.process_id == "main"


def test_two_top_level_processes_are_listed_by_name():
    [(_, _, _, message)] = refusal(bundle(process("a", "Intake", "true", LINE.format(p="a")),
                                          process("b", "Billing", "true", LINE.format(p="b"))))
    assert "more than one top-level process ('Intake' (a), 'Billing' (b))" in message


def test_a_bundle_with_only_empty_pools_says_to_draw_a_process():
    [(_, _, _, message)] = refusal(bundle(process("x", "Nothing yet", "true")))
    assert message.startswith("no process with anything in it")
