"""Each guard of the bounded script engine on its own (no database): time, memory, unreachable exit exceptions,
the per-operation budget, ordinary scripts unchanged, and the deploy-time endless-loop warning."""

from __future__ import annotations

import resource
import time

import pytest

from app.config import Settings
from app.engine.bpmn_lint import endless_script_loops
from app.engine.sandbox import ScriptLimits, ScriptMemoryLimit, ScriptTimeLimit
from app.engine.scripts import RestrictedEnvironment

QUICK = ScriptLimits(seconds=0.5, memory_mb=64)


@pytest.mark.parametrize("source", ["while True:\n    pass", "x = sum(1 for a in range(999) for b in range(999) "
                                                                "for c in range(999))"])
def test_a_spinning_script_is_stopped_at_its_time_limit(source):
    started = time.monotonic()
    with pytest.raises(ScriptTimeLimit, match="0.5 s script time limit"):
        RestrictedEnvironment(QUICK).execute(source, {})
    assert time.monotonic() - started < 0.5 + 1.0


@pytest.mark.parametrize("source", ['x = "a" * 1500000000', "x = [0] * 10**9", "x = 2 ** 10**9",
                                    'x = "a".ljust(10**10)', "x = [1]\nfor i in range(40):\n    x = x + x",
                                    'x = "%2000000000d" % 1', "x = '-'.join(['ab'] * 100000000)"])
def test_a_memory_bomb_is_stopped_at_its_memory_limit_and_this_process_does_not_grow(source):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ScriptMemoryLimit, match="64 MB script memory limit"):
        RestrictedEnvironment(ScriptLimits(seconds=5, memory_mb=64)).execute(source, {})
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # kB


def test_an_expression_that_spins_is_stopped_like_a_script():
    with pytest.raises(ScriptTimeLimit):
        RestrictedEnvironment(QUICK).evaluate("sum(1 for a in range(999) for b in range(999) for c in range(999))",
                                              {})


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"])
def test_exceptions_outside_exception_are_unreachable_from_scripts(name):
    with pytest.raises(NameError, match=name):
        RestrictedEnvironment().execute(f"raise {name}(4)", {})


def test_a_generator_closed_by_a_script_raises_nothing_outside_exception():
    data: dict = {}  # close() raises GeneratorExit inside g; the bare except re-raises it; close() swallows it
    RestrictedEnvironment().execute("def g():\n    try:\n        yield 1\n    except:\n        raise\n"
                                    "it = g()\nfor first in it:\n    break\nit.close()\ndel it\ndone = True", data)
    assert data == {"first": 1, "done": True}


def test_all_scripts_of_one_operation_share_one_time_budget():
    environment = RestrictedEnvironment(ScriptLimits(seconds=0.6, memory_mb=64))
    started, runs = time.monotonic(), 0
    with pytest.raises(ScriptTimeLimit):
        for _ in range(1000):  # each run alone is well inside the limit; together they are not
            environment.execute("x = sum(1 for a in range(100) for b in range(999))", {})
            runs += 1
    assert runs >= 1 and time.monotonic() - started < 0.6 + 2.0


def test_ordinary_scripts_and_conditions_behave_as_before():
    data = {"hours": [1.5, 2.5], "rate": 80, "gone": 1}
    environment = RestrictedEnvironment()
    environment.execute("total = sum(hours) * rate\nlabel = 'PS-' + str(int(total))\ndel gone", data)
    assert data == {"hours": [1.5, 2.5], "rate": 80, "total": 320.0, "label": "PS-320"}
    assert environment.evaluate("total > 300 and label.startswith('PS')", data) is True
    with pytest.raises(ZeroDivisionError):
        environment.evaluate("rate / 0", data)


def test_script_limits_come_from_the_environment_with_defaults():
    assert (Settings.from_env({}).script_time_limit_seconds, Settings.from_env({}).script_memory_limit_mb) == (2.0, 64)
    custom = Settings.from_env({"RF_SCRIPT_TIME_LIMIT_SECONDS": "0.5", "RF_SCRIPT_MEMORY_LIMIT_MB": "128"})
    assert (custom.script_time_limit_seconds, custom.script_memory_limit_mb) == (0.5, 128)
    with pytest.raises(ValueError, match="RF_SCRIPT_TIME_LIMIT_SECONDS"):
        Settings.from_env({"RF_SCRIPT_TIME_LIMIT_SECONDS": "0"})
    with pytest.raises(ValueError, match="RF_SCRIPT_MEMORY_LIMIT_MB"):
        Settings.from_env({"RF_SCRIPT_MEMORY_LIMIT_MB": "lots"})


@pytest.mark.parametrize("source, lines", [
    ("while True:\n    pass", [1]),
    ("x = 0\nwhile 1:\n    x += 1", [2]),
    ("while True:\n    for i in range(3):\n        break", [1]),
    ("while True:\n    if done:\n        break", []),
    ("while x < 3:\n    x += 1", []),
    ("def f():\n    while True:\n        return 1", []),
    ("while True:\n    raise ValueError('no')", []),
])
def test_deploy_warns_about_obviously_endless_while_loops_only(source, lines):
    assert endless_script_loops(source) == lines
