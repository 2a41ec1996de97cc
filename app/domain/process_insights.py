"""How a process has actually run, from its recorded steps: how many instances passed each element, how long
work waited at each task, where it looped, and the paths taken (variants). Pure: the service hands in the steps read
from the audit log (the flows taken: app.domain.process_graph)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.measures import mean, nearest_rank


@dataclass(frozen=True)
class Step:
    """One recorded step of an instance: a user task completed, a service task run or a timer fired."""

    instance: int
    element: str  # the BPMN id
    kind: str  # "user" | "service" | "timer"
    ready_at: datetime  # when it became ready (a service task or timer: when the step before it ended)
    done_at: datetime


@dataclass
class ElementStats:
    element: str
    kind: str
    passed: int = 0  # times completed, loops included
    instances: int = 0  # distinct instances that passed it
    looping: int = 0  # instances that passed it more than once
    waits: list[float] = field(default_factory=list)  # hours from ready to done, one per pass

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


def element_stats(steps: Iterable[Step]) -> dict[str, ElementStats]:
    stats: dict[str, ElementStats] = {}
    per_instance: dict[str, Counter[int]] = defaultdict(Counter)
    for step in steps:
        found = stats.setdefault(step.element, ElementStats(step.element, step.kind))
        found.passed += 1
        found.waits.append(max((step.done_at - step.ready_at).total_seconds(), 0.0) / 3600)
        per_instance[step.element][step.instance] += 1
    for element, counts in per_instance.items():
        stats[element].instances = len(counts)
        stats[element].looping = sum(1 for n in counts.values() if n > 1)
    return stats


def paths(steps: Iterable[Step]) -> dict[int, list[str]]:
    """Each instance's recorded elements in the order they ended."""
    found: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        found[step.instance].append(step)
    return {i: [s.element for s in sorted(taken, key=lambda s: s.done_at)] for i, taken in found.items()}


def variants(finished: Mapping[int, Sequence[str]], top: int = 10) -> list[Variant]:
    """The most frequent complete paths of the finished instances, most frequent first (ties: shorter, then by
    name, so the order is stable)."""
    counts = Counter(tuple(path) for path in finished.values())
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[:top]
    return [Variant(path, n, round(100 * n / total, 1)) for path, n in ranked]
