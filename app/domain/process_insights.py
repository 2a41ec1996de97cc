"""How a process has actually run, from its recorded steps: how many instances passed each element, how long
work waited at each task, where it looped, and the paths taken (variants). Pure: the service hands in the
instances' recorded steps (`Runs`, derived from the audit log by `runs_from_events`); the flows taken:
app.domain.process_graph.

`Runs` holds the steps of many instances as columns, times in whole microseconds since the epoch: compact enough to
be kept for every finished instance (the `instance_path` rows) and read back by the ten thousand without an object
per instance or step (which, besides its own cost, would set off a collection of the whole heap mid-request); the
statistics work on the instances grouped by path, a step position at a time. The numbers come out exactly as from
the events: a wait is `max((done - ready).total_seconds(), 0) / 3600` (the same float), and an element's waits are
summed in the log's order (each step keeps the `seq` of its event).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.domain.measures import mean, nearest_rank

# The audit events that are steps, and the kind of step each records (one letter: u, s, t).
STEP_KINDS = {"task_completed": "u", "service_called": "s", "timer_fired": "t"}
KIND_NAMES = {"u": "user", "s": "service", "t": "timer"}
# What the steps are derived from: the steps, when a user task became ready, and when the instance started.
STEP_SOURCES = ("instance_started", "task_ready", *STEP_KINDS)
PER_STEP = 3  # numbers per step: the seq of its event, when it became ready, when it was done

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(at: datetime) -> int:
    """An aware time as whole microseconds since the epoch (exact: datetimes have microsecond resolution)."""
    return (at - EPOCH) // _MICROSECOND


def instant(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass
class Runs:
    """The recorded steps (a user task completed, a service task run or a timer fired) of many instances, one entry
    per instance in each column: its id, its recorded elements in the log's order (equal paths share one tuple), one
    letter per step for its kind, and where its steps start in `numbers`, which holds `PER_STEP` integers per step
    (the seq of its event: the log's order across instances; when it became ready (a service task or timer: when
    the step before it ended) and when it was done). `open`: the user tasks an instance reached and never completed
    (element, when it became ready), for the instances that have any (a running one: where it waits now)."""

    instances: list[int] = field(default_factory=list)
    paths: list[tuple[str, ...]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    open: dict[int, list[tuple[str, int]]] = field(default_factory=dict)  # by position
    _shared: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict, repr=False)

    def add(self, instance: int, path: Sequence[str], kinds: str, numbers: Iterable[int],
            left: Sequence[tuple[str, int]] = ()) -> None:
        path = tuple(path)
        self.instances.append(instance)
        self.paths.append(self._shared.setdefault(path, path))
        self.kinds.append(kinds)
        self.starts.append(len(self.numbers))
        self.numbers.extend(numbers)
        if left:
            self.open[len(self.instances) - 1] = list(left)

    def __len__(self) -> int:
        return len(self.instances)

    def steps(self, position: int) -> list[tuple[str, str, int, int, int]]:
        """One instance's steps: (element, kind, seq, ready, done)."""
        at, numbers = self.starts[position], self.numbers
        return [(element, kind, numbers[at + PER_STEP * j], numbers[at + PER_STEP * j + 1],
                 numbers[at + PER_STEP * j + 2])
                for j, (element, kind) in enumerate(zip(self.paths[position], self.kinds[position], strict=True))]

    def ended(self, position: int) -> tuple[str, ...]:
        """An instance's recorded elements in the order they ended (the log's order unless the clock went back)."""
        path, start = self.paths[position], self.starts[position]
        done = self.numbers[start + 2:start + PER_STEP * len(path):PER_STEP]
        if done == sorted(done):
            return path
        return tuple(path[i] for i in sorted(range(len(done)), key=done.__getitem__))

    def replayed(self, position: int) -> tuple[str, ...]:
        """What the conformance replay walks: the steps in the log's order, then the tasks never completed."""
        left = self.open.get(position)
        path = self.paths[position]
        return (*path, *(element for element, _ in left)) if left else path

    def at(self, position: int, index: int) -> datetime:
        """When the `index`th element of `replayed(position)` ended (a task never completed: when it became ready)."""
        steps = len(self.paths[position])
        if index < steps:
            return instant(self.numbers[self.starts[position] + PER_STEP * index + 2])
        return instant(self.open[position][index - steps][1])


def runs_from_events(events: Iterable[tuple[int, str, int, datetime, str | None]],
                     into: Runs | None = None) -> Runs:
    """Each request's recorded steps from its audit events (request id, event type, seq, time, BPMN id) of the types
    in `STEP_SOURCES`, in the log's order, added to `into` (or new `Runs`) by request id. A completion is paired
    with the latest ready of the same element of the same request (not by task id: one field of the payload is
    read); a service task or timer waited since the step before it ended (or the instance started). A request
    without a step or a task never completed is not added."""
    steps: dict[int, list[tuple[str, str, int, int, int]]] = defaultdict(list)  # (element, kind, seq, ready, done)
    last_end: dict[int, int] = {}
    ready: dict[tuple[int, str], list[int]] = {}
    for request_id, kind, seq, at, bpmn_id in events:
        us = microseconds(at)
        if kind == "task_ready":
            ready.setdefault((request_id, bpmn_id or ""), []).append(us)
            continue
        if bpmn_id and kind != "instance_started":
            waiting = ready.get((request_id, bpmn_id)) if kind == "task_completed" else None
            since = waiting.pop() if waiting else last_end.get(request_id, us)
            steps[request_id].append((bpmn_id, STEP_KINDS[kind], seq, since, us))
        last_end[request_id] = us
    left: dict[int, list[tuple[str, int]]] = defaultdict(list)  # the tasks never completed, oldest ready first
    for (request_id, bpmn_id), times in sorted(ready.items(), key=lambda item: item[1][0] if item[1] else -1):
        if bpmn_id and times:
            left[request_id] += [(bpmn_id, us) for us in times]
    runs = Runs() if into is None else into
    for request_id in sorted(steps.keys() | left.keys()):
        taken = steps.get(request_id, [])
        runs.add(request_id, [s[0] for s in taken], "".join(s[1] for s in taken),
                 (n for s in taken for n in s[2:]), left.get(request_id, ()))
    return runs


@dataclass
class ElementStats:
    element: str
    kind: str
    passed: int = 0  # times completed, loops included
    instances: int = 0  # distinct instances that passed it
    looping: int = 0  # instances that passed it more than once
    waits: list[float] = field(default_factory=list)  # hours from ready to done, one per pass, in the log's order

    @property
    def loops(self) -> int:
        """Passes beyond each instance's first: how often work came back here."""
        return self.passed - self.instances

    @property
    def mean_hours(self) -> float | None:
        return mean(self.waits)

    @property
    def p90_hours(self) -> float | None:
        return nearest_rank(self.waits, 90)


@dataclass(frozen=True)
class Variant:
    path: tuple[str, ...]
    instances: int
    share: float  # percent of the finished instances


def alike(runs: Runs) -> dict[tuple[str, ...], list[int]]:
    """The instances' positions grouped by their recorded elements (most instances follow a few paths)."""
    found: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for position, path in enumerate(runs.paths):
        found[path].append(position)
    return found


def element_stats(runs: Runs) -> dict[str, ElementStats]:
    """Per element: passes, instances, loops and the waits of every pass (in the log's order). Instances that took
    the same path are counted together, a step position at a time."""
    stats: dict[str, ElementStats] = {}
    passes: dict[str, list[tuple[list[int], list[float], str]]] = defaultdict(list)  # (seqs, waits, kind) per chunk
    numbers = runs.numbers
    for path, positions in alike(runs).items():
        for element, n in Counter(path).items():
            found = stats.setdefault(element, ElementStats(element, ""))
            found.passed += n * len(positions)
            found.instances += len(positions)
            found.looping += len(positions) if n > 1 else 0
        by_kinds: dict[str, list[int]] = defaultdict(list)  # kinds -> where the steps of its instances start
        for position in positions:
            by_kinds[runs.kinds[position]].append(runs.starts[position])
        for kinds, starts in by_kinds.items():
            for j, element in enumerate(path):
                at = PER_STEP * j
                passes[element].append((
                    [numbers[start + at] for start in starts],
                    [max((numbers[start + at + 2] - numbers[start + at + 1]) / 1_000_000, 0.0) / 3600
                     for start in starts],
                    kinds[j]))
    for element, found in stats.items():
        found.waits, kind = _in_log_order(passes[element])
        found.kind = KIND_NAMES.get(kind, kind)
    return stats


def _in_log_order(chunks: list[tuple[list[int], list[float], str]]) -> tuple[list[float], str]:
    """The waits of an element's passes ordered by their events' seq, and the kind its first pass recorded."""
    seqs: list[int] = []
    waits: list[float] = []
    kinds: list[str] = []
    for chunk_seqs, chunk_waits, kind in chunks:
        seqs += chunk_seqs
        waits += chunk_waits
        kinds += [kind] * len(chunk_seqs)
    order = sorted(range(len(seqs)), key=seqs.__getitem__)
    return [waits[i] for i in order], kinds[order[0]]


def paths(runs: Runs, of: Iterable[int] | None = None) -> dict[int, tuple[str, ...]]:
    """The instances' recorded elements in the order they ended (instances with a recorded step; `of`: only these
    instances)."""
    chosen = None if of is None else set(of)
    return {instance: runs.ended(position) for position, instance in enumerate(runs.instances)
            if runs.paths[position] and (chosen is None or instance in chosen)}


def variants(finished: Mapping[int, Sequence[str]], top: int = 10) -> list[Variant]:
    """The most frequent complete paths of the finished instances, most frequent first (ties: shorter, then by
    name, so the order is stable)."""
    counts = Counter(tuple(path) for path in finished.values())
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[:top]
    return [Variant(path, n, round(100 * n / total, 1)) for path, n in ranked]
