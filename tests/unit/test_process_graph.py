"""Recorded paths replayed over a small bundle's graph: flows taken through gateways and a call activity, parallel
branches, a timer on a task's boundary, and the first step that does not fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.process_graph import END, Flow, ProcessGraph, replay_paths

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def flows(*pairs: str) -> list[Flow]:
    return [Flow(f"{s}>{t}", s, t) for s, t in (p.split(">") for p in pairs)]


# main: start > split (parallel) > a, b > join > call (calls "sub") > end
# sub: sub_start > gate (exclusive) > c | d (d has a timer t on its boundary, which leads to c); c > sub_end
GRAPH = ProcessGraph(
    main="main",
    flows=flows("start>split", "split>a", "split>b", "a>join", "b>join", "join>call", "call>end",
                "sub_start>gate", "gate>c", "gate>d", "d>sub_end", "t>c", "c>sub_end"),
    recorded={"a", "b", "c", "d", "t"}, starts={"main": ["start"], "sub": ["sub_start"]},
    ends={"main": ["end"], "sub": ["sub_end"]}, calls={"call": "sub"}, boundary={"d": ["t"]},
    splits={"split"}, joins={"join"},
    elements={"start", "split", "a", "b", "join", "call", "end", "sub_start", "gate", "c", "d", "t", "sub_end"})


def path(*elements: str) -> list[tuple[str, datetime]]:
    return [(e, T0 + timedelta(hours=n)) for n, e in enumerate(elements)]


def test_parallel_branches_and_a_call_activity_replay_and_count_the_flows_of_both_diagrams():
    replayed = replay_paths(GRAPH, {1: path("b", "a", "c")}, finished=[1])
    assert replayed.deviations == {}
    assert replayed.flows == {"start>split": 1, "split>a": 1, "split>b": 1, "a>join": 1, "b>join": 1, "join>call": 1,
                              "sub_start>gate": 1, "gate>c": 1, "c>sub_end": 1, "call>end": 1}


def test_a_timer_on_a_task_boundary_is_reached_through_the_task_it_interrupts():
    replayed = replay_paths(GRAPH, {1: path("a", "b", "t", "c")}, finished=[1])
    assert replayed.deviations == {}
    assert replayed.flows["gate>d"] == 1 and replayed.flows["t>c"] == 1


def test_the_first_step_the_diagram_does_not_allow_is_reported_with_what_it_expected():
    replayed = replay_paths(GRAPH, {1: path("a", "b", "c", "d"), 2: path("a", "b", "x")}, finished=[])
    first = replayed.deviations[1]
    assert (first.index, first.element, first.previous, first.known) == (3, "d", "c", True)
    assert first.at == T0 + timedelta(hours=3) and first.expected == (END,)
    unknown = replayed.deviations[2]
    assert (unknown.index, unknown.element, unknown.known, unknown.expected) == (2, "x", False, ("c", "d", "t"))


def test_a_path_that_starts_inside_the_process_is_a_deviation_at_its_first_step():
    replayed = replay_paths(GRAPH, {1: path("c")})
    assert (replayed.deviations[1].index, replayed.deviations[1].previous) == (0, None)
    assert replayed.deviations[1].expected == ("a", "b")
