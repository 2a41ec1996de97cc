"""Graph checks on BPMN sequence flows that neither the XSD nor the engine's parse make.

Each check works on one flow scope at a time (a process, or a sub-process inside it) and reports the element's file,
id, name and line:

* **unreachable element** (error): a flow node that no path of sequence flows reaches from a start event of its
  scope. A boundary event is reached with the activity it sits on, a link catch event from a reached link throw
  event of the same name, an event sub-process and a compensation handler by their triggers, and a scope without
  any start event starts at every node that has no incoming flow (as BPMN says).
* **gateway without complete conditions** (error): an exclusive or inclusive gateway with more than one outgoing
  flow where some flow has neither a condition nor is the gateway's default flow (the engine could not choose it).
* **gateway without a default** (warning): every outgoing flow has a condition but none is the default, so an
  instance stops with an error when no condition holds.
* **condition the engine ignores** (error): a condition on a sequence flow that leaves a task or an event rather
  than a gateway.
* **message without a name** (error): a message an event or task uses but that has no name to match it by.
* **unbounded loop** (error): a cycle of sequence flows with no exclusive, inclusive, event-based or complex gateway
  that can leave it and no boundary event on its activities: an instance that enters it never finishes.

And one check on script text (`endless_script_loops`, used by the compiler for every script):

* **endless loop in a script** (warning): a `while` loop whose condition is a true constant (`while True`,
  `while 1`) and whose body has no `break` of that loop, no `return` and no `raise`. It would always be stopped by the
  script time limit, so it can only be a modelling error. Loops that merely *might* not end are not reported (that
  is undecidable); the time limit stops them at run time.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field

from lxml import etree

from app.errors import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NOT_FLOW_NODES = {"sequenceFlow", "laneSet", "lane", "dataObject", "dataObjectReference", "dataStoreReference",
                   "textAnnotation", "association", "group", "ioSpecification", "property", "extensionElements",
                   "documentation", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
                   "dataInputAssociation", "dataOutputAssociation", "incoming", "outgoing", "category"}
_SCOPES = {"process", "subProcess", "transaction"}
_DECISIONS = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
_CHOOSING = {"exclusiveGateway", "inclusiveGateway"}


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) and tag.startswith(f"{{{BPMN}}}") else ""


@dataclass
class _Scope:
    file: str
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)

    def problem(self, element: etree._Element, message: str, severity: str = "error") -> Problem:
        line: int | None = element.sourceline  # type: ignore[assignment]  # lxml-stubs 0.5 type sourceline as `...`
        return Problem(file=self.file, element_id=element.get("id") or "", line=line,
                       message=message, severity=severity, name=(element.get("name") or "").strip())

    def label(self, element_id: str) -> str:
        node = self.nodes.get(element_id)
        name = " ".join((node.get("name") or "").split()) if node is not None else ""
        return f"{element_id} ({name})" if name else element_id


def _scopes(file: str, root: etree._Element) -> list[_Scope]:
    found: list[_Scope] = []
    for container in root.iter(*(f"{{{BPMN}}}{name}" for name in _SCOPES)):
        scope = _Scope(file)
        for child in container:
            local = _local(child)
            if not local or local in _NOT_FLOW_NODES or not child.get("id"):
                if local == "sequenceFlow":
                    scope.flows.append(child)
                continue
            scope.nodes[child.get("id") or ""] = child
        found.append(scope)
    return found


def _has_event(element: etree._Element, definition: str) -> bool:
    return element.find(f"{{{BPMN}}}{definition}") is not None


def _edges(scope: _Scope) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = defaultdict(list)
    for flow in scope.flows:
        source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
        if source in scope.nodes and target in scope.nodes:
            edges[source].append(target)
    return edges


def _unreachable(scope: _Scope, edges: dict[str, list[str]]) -> list[Problem]:
    edges = {k: list(v) for k, v in edges.items()}
    incoming = {t for targets in edges.values() for t in targets}
    link_catch: dict[str, list[str]] = defaultdict(list)
    roots: list[str] = []
    starts = [i for i, n in scope.nodes.items() if _local(n) == "startEvent"]
    for element_id, node in scope.nodes.items():
        local = _local(node)
        if local == "boundaryEvent" and node.get("attachedToRef"):
            edges.setdefault(node.get("attachedToRef") or "", []).append(element_id)
        elif local == "intermediateCatchEvent" and _has_event(node, "linkEventDefinition"):
            link_catch[node.get("name") or ""].append(element_id)
        triggered = (local == "subProcess" and node.get("triggeredByEvent") == "true") \
            or node.get("isForCompensation") == "true"
        implicit_start = not starts and element_id not in incoming and local != "boundaryEvent"
        if triggered or implicit_start:
            roots.append(element_id)
    for element_id, node in scope.nodes.items():
        if _local(node) == "intermediateThrowEvent" and _has_event(node, "linkEventDefinition"):
            edges.setdefault(element_id, []).extend(link_catch.get(node.get("name") or "", []))
    seen: set[str] = set()
    frontier = starts + roots
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        frontier.extend(edges.get(current, []))
    return [scope.problem(node, "unreachable: no sequence flow path leads here from a start event, so it never runs")
            for element_id, node in scope.nodes.items() if element_id not in seen]


def _gateways(scope: _Scope) -> list[Problem]:
    problems: list[Problem] = []
    outgoing: dict[str, list[etree._Element]] = defaultdict(list)
    for flow in scope.flows:
        outgoing[flow.get("sourceRef") or ""].append(flow)
    for element_id, node in scope.nodes.items():
        flows = outgoing.get(element_id, [])
        if _local(node) not in _CHOOSING or len(flows) < 2:
            continue
        default = node.get("default")
        bare = [f for f in flows if f.get("id") != default and not _condition(f)]
        if bare:
            names = ", ".join(f"{f.get('id')} (to {scope.label(f.get('targetRef') or '')})" for f in bare)
            problems.append(scope.problem(node, f"gateway has {len(flows)} outgoing flows but {names} "
                                                f"{'has' if len(bare) == 1 else 'have'} no condition and "
                                                f"{'is' if len(bare) == 1 else 'are'} not the default flow; give "
                                                "each a condition or mark one as the default"))
        elif not default or default not in {f.get("id") for f in flows}:
            problems.append(scope.problem(node, "gateway has no default flow: when none of its conditions holds the "
                                                "instance stops with an error", severity="warning"))
    return problems


def _condition(flow: etree._Element) -> str:
    found = flow.find(f"{{{BPMN}}}conditionExpression")
    return (found.text or "").strip() if found is not None else ""


def _components(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), in the order of `nodes`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def _loops(scope: _Scope, edges: dict[str, list[str]]) -> list[Problem]:
    problems: list[Problem] = []
    hosts = {n.get("attachedToRef") for n in scope.nodes.values() if _local(n) == "boundaryEvent"}
    order = list(scope.nodes)
    for component in _components(order, edges):
        members = set(component)
        if len(component) == 1 and component[0] not in edges.get(component[0], []):
            continue
        exits = any(_local(scope.nodes[m]) in _DECISIONS and any(t not in members for t in edges.get(m, []))
                    for m in members)
        if exits or members & hosts:
            continue
        first = min(component, key=order.index)
        path = " → ".join(scope.label(m) for m in sorted(component, key=order.index))
        problems.append(scope.problem(scope.nodes[first], f"unbounded loop: sequence flows cycle through {path} "
                                                          "with no gateway that can leave the cycle, so an instance "
                                                          "that enters it never finishes"))
    return problems


def _ignored_conditions(scope: _Scope) -> list[Problem]:
    """A condition on a flow that leaves a task or event (BPMN's conditional flow, drawn with a small diamond): the
    engine would take the flow whether or not the condition holds."""
    return [scope.problem(flow, f"this sequence flow leaves the {_local(scope.nodes[source])} "
                                f"{scope.label(source)} with a condition, which the engine ignores (it would always "
                                "take the flow): put an exclusive gateway after it and move the condition to the "
                                "gateway's outgoing flow")
            for flow in scope.flows if _condition(flow)
            for source in [flow.get("sourceRef") or ""]
            if source in scope.nodes and _local(scope.nodes[source]) not in _DECISIONS]


def _unnamed_messages(file: str, root: etree._Element) -> list[Problem]:
    """The engine matches a message by its name; a message without one would match every other unnamed message."""
    used = {d.get("messageRef") for d in root.iter(f"{{{BPMN}}}messageEventDefinition")} | \
        {t.get("messageRef") for t in root.iter(f"{{{BPMN}}}receiveTask", f"{{{BPMN}}}sendTask")}
    return [_Scope(file).problem(message, f"message '{message.get('id')}' has no name, and the engine tells "
                                          "messages apart by name: give the message a name in the modeler")
            for message in root.iter(f"{{{BPMN}}}message")
            if message.get("id") in used and not (message.get("name") or "").strip()]


def lint(roots: dict[str, etree._Element]) -> list[Problem]:
    """Every graph finding of the bundle's BPMN documents (file name -> parsed root)."""
    problems: list[Problem] = []
    for file, root in sorted(roots.items()):
        if _local(root) != "definitions":
            continue
        problems += _unnamed_messages(file, root)
        for scope in _scopes(file, root):
            if not scope.nodes:
                continue
            edges = _edges(scope)
            problems += _unreachable(scope, edges) + _gateways(scope) + _loops(scope, edges)
            problems += _ignored_conditions(scope)
    return problems


def _leaves(loop: ast.While) -> bool:
    """Whether the loop body can leave the loop: a break of this loop, a return or a raise anywhere in it."""
    pending: list[ast.AST] = list(loop.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return | ast.Raise | ast.Break):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue  # its own scope: a return there does not leave this loop
        if isinstance(node, ast.For | ast.While | ast.AsyncFor):  # a break in there ends the inner loop only
            if any(isinstance(n, ast.Return | ast.Raise) for n in ast.walk(node)):
                return True
            pending.extend(node.orelse)  # a break in the inner loop's else clause is this loop's
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


def _always_true(test: ast.expr) -> bool:
    try:
        return bool(ast.literal_eval(test))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def endless_script_loops(source: str) -> list[int]:
    """Line numbers of `while <true constant>:` loops in a script that nothing in their body can leave."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted(node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.While) and _always_true(node.test) and not _leaves(node))
