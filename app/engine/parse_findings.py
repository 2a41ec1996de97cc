"""Every finding of a file in one go, where the engine's own parse stops at the first.

Two parts of SpiffWorkflow's parse give up at the first problem: the BPMN XSD validation of a file (it keeps the last
error of the schema's log) and the build of the process specs (`get_spec` raises for the first element it cannot
use). Here

* `xsd_findings` validates a document against the same schema and returns every error of the log, each located at
  its element;
* `continued_parse` goes on after the engine's first refusal: on a copy of the documents it sets the refused element
  aside (a sequence flow gets a placeholder condition, an event loses its definition, any other element becomes a
  plain task; each keeps its id, name and flows) and parses again, up to `MAX_ROUNDS` times; it stops at an element
  refused again or at a refusal of a whole process. Each refusal is a finding of the original documents (their ids
  and lines); when the copy finally parses, its specs are returned so the project's own element checks (operators,
  forms, lanes, scripts, timers) run on everything else too.

The copies are never deployed: a bundle with any of these findings is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_ROUNDS = 25  # refusals collected after the first, at most
_KEPT_CHILDREN = {"incoming", "outgoing"}
_KEPT_ATTRIBUTES = ("id", "name", "attachedToRef", "cancelActivity")
EngineProblem = Callable[[ValidationException], Problem]


def xsd_findings(root: etree._Element, file: str, as_problem: Callable[[str, etree._Element,
                                                                         ValidationException], Problem]) \
        -> list[Problem]:
    """Every BPMN XSD error of the document (empty when it is valid), as the engine's message would be reported."""
    checked = copy.deepcopy(root)
    VALIDATOR.preprocess(checked)
    schema = VALIDATOR.validator
    if schema.validate(checked):
        return []
    found: list[Problem] = []
    for error in schema.error_log:
        err = ValidationException(error.message, file_name=file, line_number=error.line)
        found.append(as_problem(file, root, err))
    return found


@dataclass
class Continued:
    """What parsing on after the first refusal found: the further refusals, and the specs of the copy when it
    parsed in the end (None when it never did)."""

    problems: list[Problem] = field(default_factory=list)
    spec: Any = None
    subprocess_specs: dict[str, Any] = field(default_factory=dict)


def _by_id(roots: dict[str, etree._Element], element_id: str) -> etree._Element | None:
    for root in roots.values():
        found = root.xpath("//*[@id=$i]", i=element_id)
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return found[0]
    return None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _set_aside(roots: dict[str, etree._Element], element_id: str) -> bool:
    """Change the copy so the engine passes the element; False when it cannot be (it is gone, or it is a process:
    then the findings stop there rather than guess)."""
    element = _by_id(roots, element_id)
    parent = element.getparent() if element is not None else None
    if element is None or parent is None or _local(element) in {"process", "definitions", "subProcess"}:
        return False
    local = _local(element)
    if local == "sequenceFlow":
        for old in element.findall(f"{{{BPMN_NS}}}conditionExpression"):
            element.remove(old)
        condition = etree.SubElement(element, f"{{{BPMN_NS}}}conditionExpression")
        condition.text = "False"
        return True
    # an event stays the same kind of event, without its definition (a start event stays a start); any other
    # element becomes a plain task; either keeps its id, name and flows
    plain = etree.Element(element.tag if local.endswith("Event") else f"{{{BPMN_NS}}}task")
    for key in _KEPT_ATTRIBUTES:
        if element.get(key) is not None:
            plain.set(key, element.get(key) or "")
    for child in element:
        if isinstance(child.tag, str) and _local(child) in _KEPT_CHILDREN:
            plain.append(copy.deepcopy(child))
    parent.replace(element, plain)
    return True


def _parse(roots: dict[str, etree._Element], dmn_suffix: str, main: str) -> tuple[Any, dict[str, Any]]:
    parser = SpiffBpmnParser()  # the documents passed the XSD already; what is set aside keeps them valid
    for name, root in sorted(roots.items()):
        if name.endswith(dmn_suffix):
            parser.add_dmn_xml(copy.deepcopy(root), filename=name)
        else:
            parser.add_bpmn_xml(copy.deepcopy(root), filename=name)
    return parser.get_spec(main), parser.get_subprocess_specs(main)


def continued_parse(roots: dict[str, etree._Element], main: str, first: ValidationException, *,
                    dmn_suffix: str, as_problem: EngineProblem) -> Continued:
    """The engine's refusals after `first` (see the module's docstring); `roots` are left unchanged."""
    work = {name: copy.deepcopy(root) for name, root in roots.items()}
    out = Continued()
    seen: set[str] = set()
    err: ValidationException | None = first
    for _ in range(MAX_ROUNDS + 1):
        if err is None:
            return out
        element_id = str(err.id or "")
        if not element_id or element_id in seen or not _set_aside(work, element_id):
            return out  # refused again as set aside, or nothing to set aside: stop rather than guess
        seen.add(element_id)
        try:
            out.spec, out.subprocess_specs = _parse(work, dmn_suffix, main)
            err = None
        except ValidationException as again:
            err = again
            if str(again.id or "") not in seen:
                out.problems.append(as_problem(again))
        except Exception:  # noqa: BLE001 - setting an element aside can break the copy in other ways: stop here
            return out
    return out
