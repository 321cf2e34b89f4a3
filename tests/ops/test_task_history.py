"""The task monitor's history of successful runs: kept in full by django-q2's monitor (no
pruning in each task's path) and cut to TASK_HISTORY_KEEP by a schedule every minute."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure, Schedule, Success, Task
from django_q.monitor import save_task

from ops.task_history import task_history_prune
from transcriptions import tasks
from transcriptions.services import recovery

pytestmark = pytest.mark.django_db(transaction=True)

START = timezone.now() - timedelta(days=1)


def rows(count: int, *, success: bool = True, first: int = 0) -> list[Task]:
    """`count` runs, one second apart from START + `first` seconds."""
    made = []
    for i in range(first, first + count):
        at = START + timedelta(seconds=i)
        made.append(
            Task(
                id=uuid.uuid4().hex,
                name=f"run-{i}",
                func="transcriptions.tasks.run_chunk",
                args=(),
                kwargs={},
                result=f"chunk {i}",
                started=at,
                stopped=at,
                success=success,
            )
        )
    return Task.objects.bulk_create(made)


def a_finished_task() -> dict:
    now = timezone.now()
    return {
        "id": uuid.uuid4().hex,
        "name": "the-last-run",
        "func": "transcriptions.tasks.run_chunk",
        "hook": None,
        "args": (),
        "kwargs": {},
        "result": "done",
        "group": None,
        "started": now,
        "stopped": now,
        "success": True,
        "cluster": "transcribe",
        "attempt_count": 1,
    }


def test_the_monitor_saves_a_run_without_reading_the_history():
    """django-q2's monitor, as each cluster runs it, with this project's Q_CLUSTER: a finished
    task is saved and nothing is pruned (under save_limit 1000 it read all 1000 kept runs in
    a locking transaction, then deleted the oldest)."""
    rows(1000)
    with CaptureQueriesContext(connection) as queries:
        save_task(a_finished_task(), get_broker())
    assert Success.objects.count() == 1001
    assert Success.objects.filter(name="run-0").exists()
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # The only read is django-q2's look for an earlier attempt of this very task (by id).
    assert len(reads) <= 1, reads
    assert not [sql for sql in reads if "FOR UPDATE" in sql.upper()]


def test_prune_keeps_the_newest_successes_and_every_failure():
    rows(1200)  # deleted in several statements (500 at a time)
    rows(3, success=False, first=-10)  # older than every success
    assert task_history_prune(keep=10) == 1190
    kept = list(Success.objects.order_by("stopped").values_list("name", flat=True))
    assert kept == [f"run-{i}" for i in range(1190, 1200)]
    assert Failure.objects.count() == 3
    assert task_history_prune(keep=10) == 0  # already within the limit
    assert task_history_prune(keep=0) == 10
    assert not Success.objects.exists() and Failure.objects.count() == 3


def test_the_schedule_keeps_task_history_keep_every_minute(settings):
    settings.TASK_HISTORY_KEEP = 5
    rows(8)
    assert recovery.SCHEDULES["task-history-keep"][1:] == (Schedule.MINUTES, 1)
    assert tasks.task_history_keep()["task_history_pruned"] == 3
    assert set(Success.objects.values_list("name", flat=True)) == {f"run-{i}" for i in range(3, 8)}
