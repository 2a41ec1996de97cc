"""A version's diagrams as one graph, and recorded paths replayed over it: which sequence flows each instance took,
and where an instance's recorded path stops fitting the diagram (conformance). Pure: the service hands in the
elements and flows read from the BPMN files and the steps read from the audit log.

Only tasks and timers leave a record when passed (`recorded`); everything between two recorded steps (gateways,
events, call activities) is inferred as the shortest route through elements that leave no record. A call activity
whose process is in the bundle is passed by entering that process at its start events and leaving it from its end
events to the call activity's outgoing flows, so the flows of the calling diagram are counted like any other.

The check is token-based: each instance starts with a token before the main process's start events; a recorded
step must be reachable from one of its tokens (the newest first) through unrecorded elements (or, for a timer on a
task's boundary, through the task it is attached to). The token used moves to the step. A route through a parallel
or inclusive split also leaves a token at the split for its other branches (as many as it has more outgoing flows);
a route through a join spends the tokens of the branches that merge there (and counts their flows into it); a
route out through a non-interrupting boundary event leaves the token where it was (the task still waits).
Approximations, accepted for speed (the check reads thousands of instances in well under a second): routes are
not matched to the call activity they entered from (a process called from two places may return to either), and an
inclusive split is assumed to start all of its branches.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

START = "<start>"  # the token every instance starts with
END = "<end>"  # reached through an end event of the main process


@dataclass(frozen=True)
class Flow:
    id: str
    source: str
    target: str


@dataclass(frozen=True)
class Route:
    flows: tuple[str, ...]  # the sequence flows taken, in order
    split: str | None  # the first gateway on the route that splits the work (its other branches are still to run)
    lingers: bool  # the route left a task through a non-interrupting boundary event: the task still waits
    joins: tuple[str, ...]  # the gateways on the route that join parallel branches


@dataclass(frozen=True)
class Deviation:
    """The first recorded step of an instance that the diagram cannot reach from where the instance was."""

    index: int  # 0-based position of the step in the instance's recorded path
    element: str
    at: datetime
    previous: str | None  # the recorded step before it (None: it was the first)
    expected: tuple[str, ...]  # the recorded elements (or END) the diagram allowed next, sorted
    known: bool  # the element is in this version's diagrams at all


@dataclass
class ProcessGraph:
    main: str  # the process id of the main process
    flows: Sequence[Flow]
    recorded: set[str]  # elements that leave a record when passed (tasks, timers)
    starts: Mapping[str, Sequence[str]]  # process id -> its start events
    ends: Mapping[str, Sequence[str]]  # process id -> its end events
    calls: Mapping[str, str] = field(default_factory=dict)  # call activity -> the process it calls
    boundary: Mapping[str, Sequence[str]] = field(default_factory=dict)  # task -> events attached to it
    splits: set[str] = field(default_factory=set)  # parallel/inclusive gateways with more than one outgoing flow
    joins: set[str] = field(default_factory=set)  # parallel/inclusive gateways with more than one incoming flow
    lingering: set[str] = field(default_factory=set)  # non-interrupting boundary events
    elements: set[str] = field(default_factory=set)  # every element id of the diagrams

    def __post_init__(self) -> None:
        self._next: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        outgoing: dict[str, list[Flow]] = defaultdict(list)
        for flow in self.flows:
            outgoing[flow.source].append(flow)
        callers: dict[str, list[str]] = defaultdict(list)
        for call, process in self.calls.items():
            if self.starts.get(process):
                callers[process].append(call)
        for flow in self.flows:
            if flow.source not in self.calls or not callers.get(self.calls[flow.source]):
                self._next[flow.source].append((flow.target, flow.id))
        for process, calling in callers.items():
            for call in calling:  # into the called process; out of it along the call activity's flows
                self._next[call] += [(start, None) for start in self.starts[process]]
                for end in self.ends.get(process, ()):
                    self._next[end] += [(f.target, f.id) for f in outgoing.get(call, ())]
        self._next[START] = [(start, None) for start in self.starts.get(self.main, ())]
        for end in self.ends.get(self.main, ()):
            self._next[end].append((END, None))
        self._routes: dict[tuple[str, str], Route | None] = {}
        self._ahead: dict[str, tuple[str, ...]] = {}

    def _edges(self, node: str, first: bool) -> list[tuple[str, str | None]]:
        if node in self.recorded and not first:  # work waits at a task: only an event on its boundary passes it
            return [(event, None) for event in self.boundary.get(node, ())]
        return self._next.get(node, [])

    def route(self, source: str, target: str) -> Route | None:
        """The shortest route from `source` (a recorded element, or START) to `target` through unrecorded elements;
        None when the diagram has none."""
        key = (source, target)
        if key not in self._routes:
            self._routes[key] = self._search(source, target)
        return self._routes[key]

    def _search(self, source: str, target: str) -> Route | None:
        parent: dict[str, tuple[str, str | None]] = {}
        queue = deque([source])
        seen = {source}
        while queue:
            node = queue.popleft()
            for following, flow in self._edges(node, node == source):
                if following == target:
                    return self._route(parent, node, flow, source)
                if following in seen or following == END:
                    continue
                seen.add(following)
                parent[following] = (node, flow)
                queue.append(following)
        return None

    def _route(self, parent: Mapping[str, tuple[str, str | None]], node: str, last: str | None,
               source: str) -> Route:
        flows = [last] if last else []
        nodes = []
        while node != source:
            nodes.append(node)
            node, flow = parent[node]
            if flow:
                flows.append(flow)
        nodes.reverse()
        split = next((n for n in ([source] if source in self.splits else []) + nodes if n in self.splits), None)
        return Route(tuple(reversed(flows)), split, any(n in self.lingering for n in nodes),
                     tuple(n for n in nodes if n in self.joins))

    def branches(self, split: str) -> int:
        return len(self._next.get(split, ()))

    def ahead(self, source: str) -> tuple[str, ...]:
        """The recorded elements (and END) reachable from `source` through unrecorded elements: what may come next."""
        if source not in self._ahead:
            found: set[str] = set()
            queue, seen = deque([source]), {source}
            while queue:
                node = queue.popleft()
                for following, _ in self._edges(node, node == source):
                    if following in self.recorded or following == END:
                        found.add(following)
                        following_events = self.boundary.get(following, ())
                        found.update(following_events)
                    elif following not in seen:
                        seen.add(following)
                        queue.append(following)
            self._ahead[source] = tuple(sorted(found))
        return self._ahead[source]


@dataclass
class Replayed:
    flows: Counter[str] = field(default_factory=Counter)  # sequence flow id -> times taken
    deviations: dict[int, Deviation] = field(default_factory=dict)  # instance -> its first deviation


def replay_paths(graph: ProcessGraph, instance_paths: Mapping[int, Sequence[tuple[str, datetime]]],
                 finished: Iterable[int] = ()) -> Replayed:
    """Each instance's recorded steps (element, time) over the graph: the flows taken (a finished instance also to
    an end of the main process) and the first step that does not fit. After a deviation the replay goes on from
    the deviating step, so the flows after it are still counted. Instances with the same recorded elements (most
    of them: they follow a few variants) are replayed once."""
    done = set(finished)
    alike: dict[tuple[tuple[str, ...], bool], list[int]] = defaultdict(list)
    for instance, path in instance_paths.items():
        alike[(tuple(element for element, _ in path), instance in done)].append(instance)
    return replay_alike(graph, alike, lambda instance, index: instance_paths[instance][index][1])


def replay_alike(graph: ProcessGraph, alike: Mapping[tuple[tuple[str, ...], bool], Sequence[int]],
                 at: Callable[[int, int], datetime]) -> Replayed:
    """`replay_paths` for instances already grouped by (recorded elements, finished); `at(instance, index)` is when
    the instance's `index`th recorded step ended (asked only of the deviating instances)."""
    out = Replayed()
    for (elements, ended), instances in alike.items():
        flows, deviation = _replay(graph, elements, ended)
        for flow, times in flows.items():
            out.flows[flow] += times * len(instances)
        if deviation is not None:
            index, expected = deviation
            for instance in instances:
                out.deviations[instance] = Deviation(
                    index, elements[index], at(instance, index),
                    elements[index - 1] if index else None, expected, elements[index] in graph.elements)
    return out


def _replay(graph: ProcessGraph, elements: Sequence[str],
            ended: bool) -> tuple[Counter[str], tuple[int, tuple[str, ...]] | None]:
    """The flows one recorded path took, and its first deviation (position, what was expected) if any."""
    flows: Counter[str] = Counter()
    deviation: tuple[int, tuple[str, ...]] | None = None
    tokens = _Tokens(graph)
    for index, element in enumerate(elements):
        found = tokens.move_to(element)
        if found is None:
            if deviation is None:
                deviation = (index, tokens.expected())
            tokens.restart(element)
        else:
            flows.update(found.flows)
    if ended and tokens.last:
        ending = graph.route(tokens.last, END)
        if ending is not None:
            flows.update(ending.flows)
    return flows, deviation


class _Tokens:
    """Where an instance's work is: after recorded steps, and at splits whose other branches are still to run."""

    def __init__(self, graph: ProcessGraph) -> None:
        self.graph = graph
        self.at: list[str] = [START]
        self.left: dict[str, int] = {}  # a split's token -> branches still to run
        self.last: str | None = None

    def move_to(self, element: str) -> Route | None:
        for position in range(len(self.at) - 1, -1, -1):
            token = self.at[position]
            found = self.graph.route(token, element)
            if found is None:
                continue
            if token in self.left and self.left[token] > 1:
                self.left[token] -= 1
            elif not found.lingers:
                del self.at[position]
                self.left.pop(token, None)
            if found.split is not None and found.split != token:
                self._add(found.split)
                self.left[found.split] = self.graph.branches(found.split) - 1
            merged: list[str] = []
            for join in found.joins:  # the other branches merged there: their tokens are spent, their flows taken
                for token in self.at:
                    into = self.graph.route(token, join) if token != element else None
                    if into is not None:
                        merged += into.flows
                        self.at = [t for t in self.at if t != token]
            self._add(element)
            self.last = element
            return Route((*found.flows, *merged), found.split, found.lingers, found.joins) if merged else found
        return None

    def _add(self, token: str) -> None:
        if token not in self.at:
            self.at.append(token)

    def expected(self) -> tuple[str, ...]:
        return tuple(sorted({e for t in self.at for e in self.graph.ahead(t)}))

    def restart(self, element: str) -> None:
        self.at, self.left, self.last = [element], {}, element
