"""The suite does not depend on today's date: every path of the process, and its replay, run with the tests' clock far
in the past and far in the future of the wall clock (RF_TEST_START), in a pytest of their own.

Had a timestamp come from the wall clock (an email due "now" by the wall clock while the worker runs on the tests'
clock, a `created_at` left to a database default), these runs fail: the email is never due in the past run, and the
paths' own check finds the stored time years away from the tests' clock.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import PROJECT_ROOT

# Tuesdays at 09:00 in Oklahoma, in years whose calendar (weekdays and holidays) is that of the default start's.
EXTREMES = {"past": "2009-12-01T15:00:00+00:00", "future": "2099-12-01T15:00:00+00:00"}
SUITES = ["tests/bpmn/test_request_fulfillment_paths.py",
          "tests/bpmn/test_replay.py::test_every_path_replays_identical"]


@pytest.mark.parametrize("start", EXTREMES.values(), ids=EXTREMES.keys())
def test_every_path_runs_and_replays_far_from_todays_date(start: str) -> None:
    env = dict(os.environ, RF_TEST_START=start)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *SUITES],
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, check=False)
    output = done.stdout + done.stderr
    assert f"the tests' clock starts at {start}" in output, output[-3000:]
    assert done.returncode == 0, output[-8000:]
    assert " passed" in output.splitlines()[-1] and " failed" not in output.splitlines()[-1], output[-3000:]
