"""The BPMN files of a deployed version read as plain XML (no workflow is loaded): names, sequence flows, which
elements leave a record in the audit log, call activities, and the whole bundle as one `ProcessGraph`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.process_graph import Flow, ProcessGraph
from app.engine.xml_safety import UnsafeXml, parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SPLITTING = ("parallelGateway", "inclusiveGateway")


@dataclass
class Diagram:
    file: str
    xml: str
    main: bool
    process_ids: list[str]
    names: dict[str, str]
    flows: list[Flow]
    starts: list[str]
    ends: list[str]
    recorded: set[str]  # tasks and timers: the elements that leave a record when passed
    calls: dict[str, str]  # call activity id -> the process it calls
    process_starts: dict[str, list[str]] = field(default_factory=dict)
    process_ends: dict[str, list[str]] = field(default_factory=dict)
    boundary: dict[str, list[str]] = field(default_factory=dict)  # task -> events on its boundary
    splits: set[str] = field(default_factory=set)  # parallel/inclusive gateways with more than one outgoing flow
    joins: set[str] = field(default_factory=set)  # ... with more than one incoming flow
    lingering: set[str] = field(default_factory=set)  # non-interrupting boundary events
    elements: set[str] = field(default_factory=set)


def parse(file: str, xml: str, main_process: str) -> Diagram:
    found = Diagram(file, xml, False, [], {}, [], [], [], set(), {})
    try:
        root = parse_xml(xml.encode())
    except UnsafeXml:
        return found
    gateways: list[str] = []
    for process in root.iter(f"{{{BPMN}}}process"):
        process_id = process.get("id") or ""
        found.process_ids.append(process_id)
        for element in process.iter():
            if not isinstance(element.tag, str) or not element.get("id") or element is process:
                continue
            _element(found, process_id, element, gateways)
    for element in root.iter():  # names of the participants, lanes and the like too
        if isinstance(element.tag, str) and element.get("id") and element.get("name"):
            found.names[element.get("id") or ""] = " ".join((element.get("name") or "").split())
    found.main = main_process in found.process_ids
    outgoing = Counter(flow.source for flow in found.flows)
    incoming = Counter(flow.target for flow in found.flows)
    found.splits = {g for g in gateways if outgoing[g] > 1}
    found.joins = {g for g in gateways if incoming[g] > 1}
    return found


def _element(found: Diagram, process_id: str, element: object, gateways: list[str]) -> None:
    get = element.get  # type: ignore[attr-defined]
    element_id, local = get("id") or "", element.tag.rsplit("}", 1)[-1]  # type: ignore[attr-defined]
    found.elements.add(element_id)
    timer = element.find(f"{{{BPMN}}}timerEventDefinition") is not None  # type: ignore[attr-defined]
    if local == "sequenceFlow":
        found.flows.append(Flow(element_id, get("sourceRef") or "", get("targetRef") or ""))
    elif local == "startEvent":
        found.starts.append(element_id)
        found.process_starts.setdefault(process_id, []).append(element_id)
    elif local == "endEvent":
        found.ends.append(element_id)
        found.process_ends.setdefault(process_id, []).append(element_id)
    elif local.endswith("Task") or local == "task" or local == "intermediateCatchEvent" and timer:
        found.recorded.add(element_id)
    elif local == "boundaryEvent":
        found.boundary.setdefault(get("attachedToRef") or "", []).append(element_id)
        if timer:
            found.recorded.add(element_id)
        if get("cancelActivity") == "false":
            found.lingering.add(element_id)
    elif local == "callActivity" and get("calledElement"):
        found.calls[element_id] = get("calledElement") or ""
    elif local in _SPLITTING:
        gateways.append(element_id)


def graph(diagrams: Sequence[Diagram], main_process: str) -> ProcessGraph:
    """Every diagram of the bundle as one graph (element ids are unique across a bundle's files)."""
    starts: dict[str, list[str]] = {}
    ends: dict[str, list[str]] = {}
    calls: dict[str, str] = {}
    boundary: dict[str, list[str]] = {}
    for d in diagrams:
        _merge(starts, d.process_starts)
        _merge(ends, d.process_ends)
        _merge(boundary, d.boundary)
        calls.update(d.calls)
    def every(name: str) -> set[str]:
        return set().union(*(getattr(d, name) for d in diagrams))

    return ProcessGraph(main_process, [f for d in diagrams for f in d.flows], every("recorded"), starts, ends, calls,
                        boundary, every("splits"), every("joins"), every("lingering"), every("elements"))


def _merge(into: dict[str, list[str]], more: Mapping[str, list[str]]) -> None:
    for key, values in more.items():
        into.setdefault(key, []).extend(values)
