"""Issue 29's fault 7 across machines: one machine's clock steps an hour ahead. The fault
harness (tools/faults, one machine) cannot show it: there every worker is judged by whether its
process exists. Heartbeats are stamped and judged by the database's clock (ops/workers.py), so
a machine whose clock is ahead does not take the other machines' live workers for dead (and
hand their running chunks out again: a job decoded twice)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops import workers

pytestmark = pytest.mark.django_db

OTHER = "another-machine"


@pytest.fixture
def other_machines_worker(monkeypatch):
    """A worker of another machine, its heartbeat just written."""
    monkeypatch.setattr(workers.socket, "gethostname", lambda: OTHER)
    workers.worker_heartbeat(models=["tiny.en"])
    monkeypatch.undo()
    return f"{OTHER}:{workers.os.getpid()}"


@pytest.fixture
def clock_an_hour_ahead(monkeypatch):
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=1))


def test_a_clock_an_hour_ahead_finds_another_machines_live_worker_alive(
    other_machines_worker, clock_an_hour_ahead
):
    assert workers.dead_workers(job_workers={other_machines_worker}) == set()
    assert [w.hostname for w in workers.workers_alive()] == [OTHER]
    [state] = workers.worker_list()
    assert state.alive


def test_a_heartbeat_silent_past_the_stale_time_is_still_dead(other_machines_worker, settings):
    workers.WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=5))
    assert workers.dead_workers(job_workers={other_machines_worker}) == {other_machines_worker}
    assert workers.workers_alive() == []
    assert [w.alive for w in workers.worker_list()] == [False]
