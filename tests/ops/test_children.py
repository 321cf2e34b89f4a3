"""serve's children started again when they exit (ops.children), and given up on when they
keep exiting at their start: a port taken or a broken setting must stop `serve`, not spin."""

import sys
import time

import pytest

from ops import children
from ops.children import Child

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc")


def _ended(child: Child) -> None:
    deadline = time.monotonic() + 10
    while not child.exited():
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)


def test_a_child_that_keeps_exiting_at_its_start_is_given_up_on(tmp_path):
    child = Child("broken", [sys.executable, "-c", "raise SystemExit(3)"], {}, tmp_path)
    said = []
    child.start()
    results = []
    for _ in range(children.QUICK_EXITS):
        _ended(child)
        results.append(child.restart(said.append))
    assert results == [True] * (children.QUICK_EXITS - 1) + [False]
    assert said[0].startswith("broken (pid ") and "exited with code 3" in said[0]
    assert "not starting it again" in said[-1]


def test_a_child_that_ran_a_while_is_started_again_whatever_came_before(tmp_path, monkeypatch):
    child = Child("worker", [sys.executable, "-c", "raise SystemExit(0)"], {}, tmp_path)
    child.start()
    child.quick_exits = children.QUICK_EXITS - 1
    monkeypatch.setattr(children, "QUICK_EXIT_SECONDS", 0.0)  # every run counts as long
    _ended(child)
    assert child.restart(lambda line: None)
    assert child.quick_exits == 0
    _ended(child)


def test_what_the_dead_child_left_in_its_group_is_ended_before_it_starts_again(tmp_path):
    """A qcluster killed leaves its sentinel and workers: here a leader that forks a
    long-sleeping child and exits at once."""
    script = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n"
    child = Child("cluster", [sys.executable, "-c", script], {}, tmp_path)
    child.start()
    first = child.process.pid
    _ended(child)
    assert children.group_alive(first), "the orphan still runs in the dead leader's group"
    assert child.restart(lambda line: None)
    assert not children.group_alive(first)
    assert child.process.pid != first
    children.children_stop([child.process])
