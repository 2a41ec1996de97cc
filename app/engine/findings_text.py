"""What the BPMN schema check and the engine's parse say, in words a person drawing in a modeler understands.

`translate` takes the raw message (libxml2's XSD errors, SpiffWorkflow's parse errors) and the element it is about,
and returns what is wrong and what to change. It is a table of patterns, first match wins; a message no pattern
knows passes through unchanged (the caller still reports the element id, name and line). `xsd_element` finds the
element an XSD message is about (libxml2 names the tag and the line, not the id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_TAG = r"Element '(?:\{(?P<ns>[^}]*)\})?(?P<tag>[^']+)'"
_WORDS = {
    "startEvent": "start event", "endEvent": "end event", "sequenceFlow": "sequence flow", "userTask": "user task",
    "serviceTask": "service task", "scriptTask": "script task", "callActivity": "call activity",
    "subProcess": "sub-process", "adHocSubProcess": "ad-hoc sub-process", "exclusiveGateway": "exclusive gateway",
    "inclusiveGateway": "inclusive gateway", "parallelGateway": "parallel gateway",
    "complexGateway": "complex gateway", "eventBasedGateway": "event-based gateway",
    "intermediateCatchEvent": "intermediate event", "intermediateThrowEvent": "intermediate event",
    "boundaryEvent": "boundary event", "businessRuleTask": "business rule task", "manualTask": "manual task",
    "sendTask": "send task", "receiveTask": "receive task", "messageFlow": "message flow",
    "dataObjectReference": "data object", "dataStoreReference": "data store", "textAnnotation": "text annotation",
}
# what to draw instead of an element the engine cannot run
_INSTEAD = {
    "complexGateway": "use an exclusive gateway (one path), an inclusive gateway (several paths by condition) or a "
                      "parallel gateway (all paths)",
    "adHocSubProcess": "draw the tasks in an ordinary sub-process joined by sequence flows, or as parallel branches",
    "transaction": "draw an ordinary sub-process and handle the failure paths with boundary events",
    "globalScriptTask": "draw a script task inside the process",
    "globalTask": "draw the task inside the process",
    "choreographyTask": "draw the exchange as tasks in each participant's process",
}


def words(tag: str) -> str:
    """`userTask` -> `user task`: the name a modeler's palette shows."""
    local = tag.rsplit("}", 1)[-1]
    return _WORDS.get(local, re.sub(r"(?<!^)(?=[A-Z])", " ", local).lower())


@dataclass(frozen=True)
class Context:
    """What is known of the element the message is about (any part may be empty)."""

    tag: str = ""  # BPMN local name, e.g. "task"
    element: etree._Element | None = None


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], Context], str]]


def _names(listing: str) -> str:
    found = [words(n.strip()) for n in re.findall(r"(?:\{[^}]*\})?([A-Za-z]+)", listing)]
    shown = ", ".join(dict.fromkeys(found[:6]))
    return shown + (", …" if len(found) > 6 else "")


def _unsupported(match: re.Match[str], ctx: Context) -> str:
    what = words(ctx.tag) if ctx.tag else "element"
    instead = _INSTEAD.get(ctx.tag, "replace it with a task, gateway or event the engine runs (see the list of "
                                    "supported elements)")
    article = "an" if what[:1] in "aeiou" else "a"
    return f"{article} {what} cannot be run by this engine: {instead}"


def _missing_reference(match: re.Match[str], ctx: Context) -> str:
    element = ctx.element
    if element is not None:
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag.endswith("EventDefinition"):
                kind = words(tag).removesuffix(" event definition")
                ref = next((str(v) for k, v in child.attrib.items() if str(k).endswith("Ref")), "")
                if ref:
                    return (f"the {kind} event refers to {kind} '{ref}', which the file does not define: pick or "
                            f"create the {kind} in the modeler's properties panel")
                return f"the {kind} event names no {kind}: pick or create the {kind} in the modeler's properties panel"
    return "an event refers to a message, signal, error or escalation the file does not define: pick or create it"


RULES: list[Rule] = [
    # --- the BPMN XML schema (libxml2) ---
    (re.compile(_TAG + r", attribute 'id': '(?P<v>[^']*)' is not a valid value of the atomic type 'xs:ID'"),
     lambda m, c: f"the {words(m['tag'])} has the id '{m['v']}', which is either used by another element too or is "
                  "not a valid identifier (an id must be unique, start with a letter or _ and contain no spaces or "
                  "colons): give it its own id such as Task_1 in the modeler's properties panel"),
    (re.compile(_TAG + r", attribute '(?P<a>[^']+)': '(?P<v>[^']*)' is not a valid value of the atomic type "
                       r"'xs:IDREF'"),
     lambda m, c: f"the {words(m['tag'])}'s {m['a']} is '{m['v']}', which is not a valid element id (it must start "
                  "with a letter or _ and contain no spaces or colons): correct the referenced element's id"),
    (re.compile(_TAG + r", attribute '(?P<a>[^']+)': '(?P<v>[^']*)' is not a valid value of the \w+ type "
                       r"'(?P<t>[^']+)'"),
     lambda m, c: f"the {words(m['tag'])}'s attribute {m['a']} holds '{m['v']}', which is not allowed there "
                  f"(BPMN expects a {m['t'].removeprefix('xs:').removeprefix('t')}): correct the value in the "
                  "modeler's properties panel"),
    (re.compile(_TAG + r": The attribute '(?P<a>[^']+)' is required but missing"),
     lambda m, c: f"the {words(m['tag'])} has no {m['a']}, which BPMN requires"
                  + (": connect both ends of the flow to shapes in the modeler" if m["a"] in ("sourceRef", "targetRef")
                     else f": set its {m['a']} in the modeler")),
    (re.compile(_TAG + r", attribute '(?P<a>[^']+)': The attribute '[^']+' is not allowed"),
     lambda m, c: f"the {words(m['tag'])} carries the attribute {m['a']}, which BPMN does not define: remove it, or "
                  "export the file again from the modeler (tools' own attributes belong in their own namespace)"),
    (re.compile(_TAG + r": This element is not expected\. Expected is (?:one of )?\((?P<exp>[^)]*)\)"),
     lambda m, c: f"a {words(m['tag'])} is not allowed at this place in a BPMN file (expected here: "
                  f"{_names(m['exp'])}): remove it or export the file again; elements are in a fixed order and "
                  "tools' own elements belong in extensionElements"),
    (re.compile(_TAG + r": This element is not expected"),
     lambda m, c: f"a {words(m['tag'])} is not allowed at this place in a BPMN file: remove it or export the file "
                  "again; tools' own elements belong in extensionElements"),
    (re.compile(_TAG + r": Missing child element\(s\)\. Expected is (?:one of )?\((?P<exp>[^)]*)\)"),
     lambda m, c: f"the {words(m['tag'])} lacks a required part ({_names(m['exp'])}): complete it in the modeler"),
    (re.compile(_TAG + r": No match found for key-sequence \['(?P<v>[^']*)'\]"),
     lambda m, c: f"the {words(m['tag'])} refers to '{m['v']}', but no element has that id: reconnect it in the "
                  "modeler"),
    (re.compile(_TAG + r": '(?P<v>[^']*)' is not a valid value of the \w+ type '(?P<t>[^']+)'"),
     lambda m, c: f"the {words(m['tag'])} holds '{m['v']}', which is not a valid "
                  f"{m['t'].removeprefix('xs:').removeprefix('t')}: correct it in the modeler"),
    # --- the engine's parse (SpiffWorkflow) ---
    (re.compile(r"^No start event found"),
     lambda m, c: "the process has no start event: draw a start event (a thin circle) where a request begins and "
                  "connect it to the first task"),
    (re.compile(r"^There is no support implemented for this task type"), _unsupported),
    (re.compile(r"^Non-default exclusive outgoing sequence flow without condition"),
     lambda m, c: "this sequence flow leaves an exclusive gateway without a condition and is not the gateway's "
                  "default flow: give it a condition (a Python expression such as amount > 100) or mark it as the "
                  "default flow"),
    (re.compile(r'^No "calledElement" attribute for Call Activity'),
     lambda m, c: "the call activity names no process to call: set its called element (process id) to a process "
                  "in the bundle"),
    (re.compile(r"^The process '(?P<p>[^']*)' was not found\. Did you mean one of the following: (?P<ids>.*?)\??$"),
     lambda m, c: f"a call activity calls process '{m['p']}', which is not in the bundle (processes in it: "
                  f"{m['ids']}): add the file that holds it, or correct the called element"),
    (re.compile(r"^Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)"),
     lambda m, c: f"the sub-process has {m['n']} start events inside it: draw exactly one"),
    (re.compile(r"^A SubWorkflow Must contain an End event"),
     lambda m, c: "the sub-process has no end event inside it: draw one where its work ends"),
    (re.compile(r"^Duplicate process ID: (?P<p>.*)"),
     lambda m, c: f"two processes have the id '{m['p']}': give each process (pool) its own id"),
    (re.compile(r"^(?:Time Specification Error\. )?Unknown Time Specification"),
     lambda m, c: "the timer has no value: choose a timer type (date, duration or cycle) and write a value such as "
                  "PT1H in the modeler"),
    (re.compile(r"^(Message|Signal|Error|Escalation|Correlation|Data Store) identifier is missing"),
     lambda m, c: f"a {m[1].lower()} has no id: give every {m[1].lower()} an id in the modeler"),
    (re.compile(r"^Could not find messageRef from message event definition: (?P<r>.*)"),
     lambda m, c: f"the message event refers to message '{m['r']}', which the file does not define: pick or create "
                  "the message in the modeler's properties panel"),
    (re.compile(r"raise_validation_exception\(\) got an unexpected keyword argument"), _missing_reference),
    (re.compile(r"^Invalid Script Task\.\s+No Script Provided"),
     lambda m, c: "the script task has no script: write the Python script, or make it a plain task"),
    (re.compile(r"^Conditional event definition with missing condition"),
     lambda m, c: "the conditional event has no condition: write a Python expression such as approved == True"),
    (re.compile(r"^Cannot resolve (?P<a>dataInputAssociation|dataOutputAssociation) (?P<n>.*)"),
     lambda m, c: f"a data association refers to '{m['n']}', which is not a data object of this process: connect "
                  "it to a data object drawn in the same process"),
    (re.compile(r"^Sequential ordering for ad hoc subprocesses not supported"),
     lambda m, c: "an ad-hoc sub-process with sequential ordering cannot be run: " + _INSTEAD["adHocSubProcess"]),
    (re.compile(r"^A loopMaximum or loopCondition must be specified for Loop Tasks"),
     lambda m, c: "the loop task has neither a maximum nor a condition: set a loop condition (a Python "
                  "expression) or a maximum number of loops"),
]


def translate(message: str, ctx: Context | None = None) -> str:
    """The finding's text: a rule's translation, or the message unchanged when no rule knows it."""
    text = " ".join(message.split()).rstrip(".").rstrip(".")
    context = ctx or Context()
    for pattern, render in RULES:
        found = pattern.search(text)
        if found:
            return render(found, context)
    return message


def xsd_element(root: etree._Element, message: str, line: int | None) -> etree._Element | None:
    """The element an XSD message is about: the one with the named tag on that line (libxml2 gives no id)."""
    found = re.match(_TAG, message)
    if not found or line is None:
        return None
    tag = f"{{{found['ns']}}}{found['tag']}" if found["ns"] else found["tag"]
    for element in root.iter(tag):
        source_line: int | None = element.sourceline  # type: ignore[assignment]  # lxml-stubs 0.5 type it as `...`
        if source_line == line:
            return element
    return None
