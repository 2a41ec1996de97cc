"""The schema's and the engine's messages, translated into what to change: one case per kind of message, each with the
message exactly as libxml2 or SpiffWorkflow 3.2 words it; and, through a real deploy check, that each finding names
the element (id and name) and its line. A message no rule knows passes through unchanged."""

from __future__ import annotations

import pytest
from lxml import etree

from app.engine import compile_bundle
from app.engine.findings_text import Context, translate, words
from app.errors import DefinitionRejected

M = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

CASES = [
    (f"Element '{M}task', attribute 'id': '1st step' is not a valid value of the atomic type 'xs:ID'.", "",
     ["the task has the id '1st step'", "unique", "start with a letter or _", "Task_1"]),
    (f"Element '{M}sequenceFlow', attribute 'sourceRef': '1task' is not a valid value of the atomic type 'xs:IDREF'.",
     "", ["the sequence flow's sourceRef is '1task'", "not a valid element id"]),
    (f"Element '{M}process', attribute 'isExecutable': 'yes' is not a valid value of the atomic type 'xs:boolean'.",
     "", ["the process's attribute isExecutable holds 'yes'", "BPMN expects a boolean"]),
    (f"Element '{M}sequenceFlow': The attribute 'targetRef' is required but missing.", "",
     ["the sequence flow has no targetRef", "connect both ends of the flow"]),
    (f"Element '{M}task', attribute 'color': The attribute 'color' is not allowed.", "",
     ["the task carries the attribute color, which BPMN does not define", "remove it"]),
    (f"Element '{M}foo': This element is not expected. Expected is one of ( {M}documentation, "
     f"{M}extensionElements ).", "", ["a foo is not allowed at this place", "documentation, extension elements"]),
    (f"Element '{M}timerEventDefinition': Missing child element(s). Expected is ( {M}timeDate ).", "",
     ["the timer event definition lacks a required part (time date)"]),
    ("No start event found", "process", ["no start event", "draw a start event"]),
    ("There is no support implemented for this task type.", "complexGateway",
     ["a complex gateway cannot be run", "exclusive gateway"]),
    ("There is no support implemented for this task type.", "adHocSubProcess",
     ["an ad-hoc sub-process cannot be run", "ordinary sub-process"]),
    ("There is no support implemented for this task type.", "choreographyTask", ["a choreography task cannot be run"]),
    ("Non-default exclusive outgoing sequence flow without condition", "sequenceFlow",
     ["leaves an exclusive gateway without a condition", "mark it as the default flow"]),
    ('No "calledElement" attribute for Call Activity.', "callActivity", ["names no process to call"]),
    ("The process 'billing' was not found. Did you mean one of the following: intake?", "",
     ["calls process 'billing', which is not in the bundle (processes in it: intake)"]),
    ("Exactly one start event is required in a SubWorkflow Task; found 2.", "subProcess", ["has 2 start events"]),
    ("A SubWorkflow Must contain an End event", "subProcess", ["no end event inside it"]),
    ("Duplicate process ID: intake", "process", ["two processes have the id 'intake'"]),
    ("Time Specification Error. Unknown Time Specification", "intermediateCatchEvent", ["the timer has no value"]),
    ("Message identifier is missing from bpmn xml", "", ["a message has no id"]),
    ("Could not find messageRef from message event definition: paid", "", ["refers to message 'paid'"]),
    ("Invalid Script Task.  No Script Provided. 'NoneType'", "scriptTask", ["the script task has no script"]),
    ("Conditional event definition with missing condition", "", ["the conditional event has no condition"]),
    ("Cannot resolve dataInputAssociation order", "", ["refers to 'order', which is not a data object"]),
    ("A loopMaximum or loopCondition must be specified for Loop Tasks", "", ["neither a maximum nor a condition"]),
]


@pytest.mark.parametrize(("message", "tag", "says"), CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_each_kind_of_message_says_what_is_wrong_and_what_to_change(message, tag, says):
    text = translate(message, Context(tag=tag))
    for part in says:
        assert part in text, text
    assert "{http" not in text  # no namespace URIs for a person to decode


def test_an_event_that_names_an_undefined_message_is_explained_from_the_element():
    event = etree.fromstring(f'<x:intermediateCatchEvent xmlns:x="{M[1:-1]}" id="w"><x:messageEventDefinition '
                             'messageRef="paid" /></x:intermediateCatchEvent>')
    text = translate("TypeError(\"NodeParser.raise_validation_exception() got an unexpected keyword argument "
                     "'node'\")", Context(tag="intermediateCatchEvent", element=event))
    assert text.startswith("the message event refers to message 'paid', which the file does not define")


def test_a_message_no_rule_knows_passes_through_unchanged():
    assert translate("Something new went wrong.", Context(tag="task")) == "Something new went wrong."


def test_element_names_read_as_the_modelers_palette_shows_them():
    assert [words(t) for t in ("userTask", f"{M}exclusiveGateway", "dataStoreReference", "lane")] == \
        ["user task", "exclusive gateway", "data store", "lane"]


HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/'
        'MODEL" id="d" targetNamespace="http://example.org">\n')
FLOW = ('<bpmn:startEvent id="s" />\n<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="{t}" />\n{x}\n'
        '<bpmn:sequenceFlow id="f2" sourceRef="{t}" targetRef="e" />\n<bpmn:endEvent id="e" />\n')


def findings(body: str, before: str = "") -> list[tuple[str, str, int | None, str]]:
    xml = HEAD + before + '<bpmn:process id="p" name="Intake" isExecutable="true">\n' + body + \
        "</bpmn:process>\n</bpmn:definitions>\n"
    with pytest.raises(DefinitionRejected) as refused:
        compile_bundle({"drawn.bpmn": xml.encode()}, operators=set(), lanes=None, forms={})
    return [(p.element_id, p.name, p.line, p.message) for p in refused.value.problems]


@pytest.mark.parametrize(("body", "before", "where", "says"), [
    (FLOW.format(t="t", x='<bpmn:task id="t" name="Check" color="red" />'), "", ("t", "Check", 6),
     "carries the attribute color"),
    (FLOW.format(t="t", x='<bpmn:task id="t" name="Check" />\n<bpmn:task id="t" name="Again" />'), "",
     ("t", "Again", 7), "has the id 't', which is either used by another element"),
    ('<bpmn:startEvent id="s" />\n<bpmn:sequenceFlow id="f1" name="Go" sourceRef="s" />\n', "",
     ("f1", "Go", 5), "has no targetRef"),
    (FLOW.format(t="t", x='<bpmn:task id="t" name="Check"><bpmn:note /></bpmn:task>'), "",
     ("t", "Check", 6), "a note is not allowed at this place"),
    ('<bpmn:task id="t" name="Check" />\n', "", ("p", "Intake", 3), "the process has no start event"),
    (FLOW.format(t="g", x='<bpmn:complexGateway id="g" name="Decide" />'), "", ("g", "Decide", 6),
     "a complex gateway cannot be run"),
    (FLOW.format(t="c", x='<bpmn:callActivity id="c" name="Bill" />'), "", ("c", "Bill", 6),
     "names no process to call"),
    (FLOW.format(t="w", x='<bpmn:intermediateCatchEvent id="w" name="Paid">\n<bpmn:messageEventDefinition '
                          'messageRef="paid" />\n</bpmn:intermediateCatchEvent>'), "", ("w", "Paid", 6),
     "refers to message 'paid', which the file does not define"),
    (FLOW.format(t="w", x='<bpmn:intermediateCatchEvent id="w" name="Paid">\n<bpmn:messageEventDefinition '
                          'messageRef="paid" />\n</bpmn:intermediateCatchEvent>'), '<bpmn:message id="paid" />\n',
     ("paid", "", 3), "message 'paid' has no name"),
    ('<bpmn:startEvent id="s" />\n<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />\n<bpmn:task id="t" />\n'
     '<bpmn:sequenceFlow id="f2" name="Big" sourceRef="t" targetRef="e">\n<bpmn:conditionExpression>amount &gt; 9'
     '</bpmn:conditionExpression>\n</bpmn:sequenceFlow>\n<bpmn:endEvent id="e" />\n', "", ("f2", "Big", 7),
     "leaves the task t with a condition, which the engine ignores"),
])
def test_a_deploy_check_finding_names_the_element_its_line_and_what_to_change(body, before, where, says):
    found = findings(body, before)
    assert any((element, name, line) == where and says in message for element, name, line, message in found), found
