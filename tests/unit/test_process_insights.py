"""Recorded steps derived from audit events and kept as columns (`Runs`): pairing completions with readiness, waits
of service tasks since the step before, tasks never completed, and statistics that come out exactly as a step-by-step
sum in the log's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.process_insights import Runs, element_stats, instant, microseconds, paths, runs_from_events, variants

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_completion_waited_since_its_readiness_and_a_service_task_since_the_step_before():
    runs = runs_from_events([
        (7, "instance_started", 1, at(0), None),
        (7, "service_called", 2, at(0.5), "take_case"),
        (7, "task_ready", 3, at(0.5), "assign"),
        (7, "task_completed", 4, at(2.5), "assign"),
        (7, "service_called", 5, at(3), "close_case"),
        (7, "timer_fired", 6, at(27), "service_live"),
    ])
    assert runs.instances == [7]
    assert runs.steps(0) == [("take_case", "s", 2, microseconds(at(0)), microseconds(at(0.5))),
                             ("assign", "u", 4, microseconds(at(0.5)), microseconds(at(2.5))),
                             ("close_case", "s", 5, microseconds(at(2.5)), microseconds(at(3))),
                             ("service_live", "t", 6, microseconds(at(3)), microseconds(at(27)))]
    stats = element_stats(runs)
    assert [(e, s.kind, s.waits) for e, s in sorted(stats.items())] == [
        ("assign", "user", [2.0]), ("close_case", "service", [0.5]), ("service_live", "timer", [24.0]),
        ("take_case", "service", [0.5])]


def test_interleaved_instances_keep_their_own_pairs_and_tasks_never_completed():
    runs = runs_from_events([
        (1, "instance_started", 1, at(0), None),
        (2, "instance_started", 2, at(0), None),
        (1, "task_ready", 3, at(1), "fulfil"),
        (2, "task_ready", 4, at(2), "fulfil"),
        (2, "task_completed", 5, at(3), "fulfil"),
        (1, "task_ready", 6, at(4), "approve"),
        (2, "task_ready", 7, at(4), ""),  # no BPMN id: never a step, never open
    ])
    assert runs.instances == [1, 2]
    assert runs.paths == [(), ("fulfil",)]
    assert runs.open == {0: [("fulfil", microseconds(at(1))), ("approve", microseconds(at(4)))]}
    assert runs.replayed(0) == ("fulfil", "approve") and runs.at(0, 1) == at(4)
    assert element_stats(runs)["fulfil"].waits == [1.0]  # instance 2's readiness, not instance 1's


def test_waits_are_summed_in_the_log_order_across_instances_and_paths_shared():
    """Three instances on one path, their steps interleaved in the log: each element's waits come out in seq order
    (the order a step-by-step sum used), and equal paths are one tuple."""
    runs = Runs()
    hour = 3_600_000_000
    runs.add(10, ["a", "b"], "uu", [5, 0, 3 * hour, 9, 3 * hour, 4 * hour])
    runs.add(11, ["a", "b"], "uu", [2, 0, 1 * hour, 7, 1 * hour, 6 * hour])
    runs.add(12, ["a"], "s", [8, 0, -hour])  # a clock that went back: no negative wait; another kind first seen later
    assert runs.paths[0] is runs.paths[1]
    stats = element_stats(runs)
    assert stats["a"].waits == [1.0, 3.0, 0.0] and stats["a"].kind == "user"  # seq 2, 5, 8
    assert stats["b"].waits == [5.0, 1.0]  # seq 7, 9
    assert (stats["a"].passed, stats["a"].instances, stats["b"].instances) == (3, 3, 2)


def test_loops_count_passes_beyond_the_first_and_variants_follow_the_order_steps_ended():
    runs = Runs()
    runs.add(1, ["a", "b", "a"], "uuu", [1, 0, 10, 2, 10, 20, 3, 20, 30])
    runs.add(2, ["a", "b"], "uu", [4, 0, 50, 5, 0, 40])  # b ended before a: the clock went back between them
    runs.add(3, ["a", "b"], "uu", [6, 0, 10, 7, 10, 20])
    stats = element_stats(runs)
    assert (stats["a"].passed, stats["a"].instances, stats["a"].loops, stats["a"].looping) == (4, 3, 1, 1)
    assert paths(runs) == {1: ("a", "b", "a"), 2: ("b", "a"), 3: ("a", "b")}
    assert paths(runs, of=[2]) == {2: ("b", "a")}
    assert [(v.path, v.instances) for v in variants(paths(runs))] == [(("a", "b"), 1), (("b", "a"), 1),
                                                                       (("a", "b", "a"), 1)]


def test_times_are_whole_microseconds_since_the_epoch_both_ways():
    moment = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    assert instant(microseconds(moment)) == moment and microseconds(instant(1)) == 1
