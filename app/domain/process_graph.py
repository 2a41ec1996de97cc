"""A version's diagrams as one graph, and recorded paths replayed over it: which sequence flows each instance took,
and where an instance's recorded path stops fitting the diagram (conformance). Pure: the service hands in the
elements and flows read from the BPMN files and the steps read from the audit log.

Only tasks and timers leave a record when passed (`recorded`); everything between two recorded steps (gateways,
events, call activities) is inferred as the shortest route through elements that leave no record. A call activity
whose process is in the bundle is passed by entering that process at its start events and leaving it from its end
events to the call activity's outgoing flows, so the flows of the calling diagram are counted like any other.

The check is token-based: each instance starts with a token before the main process's start events; a recorded
step must be reachable from one of its tokens through unrecorded elements (or, for a timer on a task's boundary,
through the task it is attached to). The token used moves to the step, except when its route split the work
(parallel and inclusive gateways, non-interrupting boundary events): then it also stays, for the other branches.
Approximations, accepted for speed (the check reads thousands of instances in well under a second): routes are
not matched to the call activity they entered from (a process called from two places may return to either), and
parallel branches are checked loosely (a token left at a split may later accept a step of either branch).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
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
    split: bool  # the route passed an element that splits the work: the token stays for the other branches


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
    splits: set[str] = field(default_factory=set)  # parallel/inclusive gateways, non-interrupting boundary events
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
        split = False
        while node != source:
            split = split or node in self.splits
            node, flow = parent[node]
            if flow:
                flows.append(flow)
        return Route(tuple(reversed(flows)), split)

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
    the deviating step, so the flows after it are still counted."""
    done = set(finished)
    out = Replayed()
    for instance, path in instance_paths.items():
        tokens = [START]
        previous: str | None = None
        for index, (element, at) in enumerate(path):
            for position in range(len(tokens) - 1, -1, -1):
                found = graph.route(tokens[position], element)
                if found is not None:
                    out.flows.update(found.flows)
                    if not found.split:
                        del tokens[position]
                    break
            else:
                if instance not in out.deviations:
                    expected = sorted({e for t in tokens for e in graph.ahead(t)})
                    out.deviations[instance] = Deviation(index, element, at, previous, tuple(expected),
                                                         element in graph.elements)
                tokens = []
            if element not in tokens:
                tokens.append(element)
            previous = element
        if instance in done and tokens:
            ending = graph.route(tokens[-1], END)
            if ending is not None:
                out.flows.update(ending.flows)
    return out
