"""One condition or timer value checked as the deploy check would check it, for the modeler's properties panel.

The value is put into the smallest process that uses it (a gateway's conditional flow, or an intermediate timer
event) and that process goes through `compile_bundle`: the very checks of a deploy, so the panel and `rf check`
never disagree. Only the findings about that one element are returned.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from app.engine.compiler import compile_bundle
from app.errors import DefinitionRejected, Problem

KINDS = ("condition", "timeDuration", "timeCycle", "timeDate")
MAX_LENGTH = 2000
_ELEMENT = {"condition": "checked_flow", "timeDuration": "checked_timer", "timeCycle": "checked_timer",
            "timeDate": "checked_timer"}

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="checked_definitions" '
         'targetNamespace="http://bpmn.io/schema/bpmn">\n<bpmn:process id="checked_value" isExecutable="true">\n'
         '<bpmn:startEvent id="checked_start" />\n')
_TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def _condition_process(text: str) -> str:
    return (_HEAD
            + '<bpmn:sequenceFlow id="to_gateway" sourceRef="checked_start" targetRef="checked_gateway" />\n'
            + '<bpmn:exclusiveGateway id="checked_gateway" default="otherwise" />\n'
            + '<bpmn:sequenceFlow id="checked_flow" sourceRef="checked_gateway" targetRef="checked_end">'
            + f'<bpmn:conditionExpression>{escape(text)}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
            + '<bpmn:sequenceFlow id="otherwise" sourceRef="checked_gateway" targetRef="checked_end" />\n'
            + '<bpmn:endEvent id="checked_end" />\n' + _TAIL)


def _timer_process(kind: str, text: str) -> str:
    return (_HEAD
            + '<bpmn:sequenceFlow id="to_timer" sourceRef="checked_start" targetRef="checked_timer" />\n'
            + '<bpmn:intermediateCatchEvent id="checked_timer"><bpmn:timerEventDefinition>'
            + f'<bpmn:{kind}>{escape(text)}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n'
            + '<bpmn:sequenceFlow id="to_end" sourceRef="checked_timer" targetRef="checked_end" />\n'
            + '<bpmn:endEvent id="checked_end" />\n' + _TAIL)


def check_value(kind: str, text: str) -> list[Problem]:
    """The deploy check's findings (errors and warnings) about a condition or a timer value; [] when it passes.
    Raises ValueError for an unknown kind or a value no element could carry (empty, too long, control characters)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not text.strip():
        raise ValueError("the value is empty")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"the value is longer than {MAX_LENGTH} characters")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise ValueError("the value contains a control character, which no BPMN file can hold")
    xml = _condition_process(text) if kind == "condition" else _timer_process(kind, text)
    try:
        compiled = compile_bundle({"checked.bpmn": xml.encode("utf-8")}, operators=set(), lanes=None, forms={})
        problems = compiled.warnings
    except DefinitionRejected as err:
        problems = err.problems
    element = _ELEMENT[kind]
    return [p for p in problems if p.element_id in (element, "checked_gateway") or not p.element_id]
